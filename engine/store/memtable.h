#ifndef CRM_ENGINE_STORE_MEMTABLE_H_
#define CRM_ENGINE_STORE_MEMTABLE_H_

#include <memory>

#include "rocksdb/memtablerep.h"

namespace crm::store {

// The memtable of every column family of a partition store: a skiplist
// with one writer and lock-free readers, as RocksDB's own, with two
// differences that matter to the projector's commits.
//
// - Keys are compared inline as bytewise internal keys (user key bytes
//   ascending, then the 8-byte sequence-and-type trailer descending), not
//   through the column family's comparator objects: only for column
//   families that use RocksDB's BytewiseComparator (CfOptions checks).
// - An insert starts from where the previous one went in (a finger) when
//   its key is larger, so a commit's keys, staged in key order, each cost a
//   few comparisons rather than a search from the top.
//
// No concurrent inserts (DBOptions::allow_concurrent_memtable_write must be
// false; RocksDB refuses to open otherwise) and no in-place updates.
std::shared_ptr<rocksdb::MemTableRepFactory> NewFingerSkipListFactory();

}  // namespace crm::store

#endif  // CRM_ENGINE_STORE_MEMTABLE_H_
