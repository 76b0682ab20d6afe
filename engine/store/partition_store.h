#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rocksdb {
class Cache;
class Iterator;
class ColumnFamilyHandle;
class DB;
class Env;
class SstFileWriter;
class WriteBufferManager;
class Status;
}  // namespace rocksdb

namespace crm::store {

// Converts a RocksDB status to absl::Status: corruption -> kDataLoss,
// I/O error -> kUnavailable, not found -> kNotFound, the rest -> kInternal.
// The one place RocksDB errors are translated.
absl::Status FromRocksDb(const rocksdb::Status& s, absl::string_view what);

struct StoreOptions {
  // Bytes of block cache shared by every partition's store.
  // Default: 256 MiB
  size_t block_cache_bytes = 256 << 20;
  // Bytes of memtables all partitions may hold together (one shared
  // WriteBufferManager); a store flushes when the budget is reached.
  // Default: 128 MiB
  size_t write_buffer_budget_bytes = 128 << 20;
  // fsync the WAL on every commit. Off, a commit survives a process crash
  // (the WAL is in the OS cache) but not a power loss. Default: false
  bool sync_commits = false;
  // Write commits without the WAL (scratch stores of a replay, which are
  // rebuilt from the log after a crash instead of recovered). A crash then
  // loses everything not yet flushed to SST files. Default: false
  bool disable_wal = false;
  // With disable_wal: a commit of at least this many customer records (and
  // no index deletes) writes its customer, history and index records as
  // table files (one per column family, RocksDB SstFileWriter) and ingests
  // them in one atomic IngestExternalFiles, instead of copying them into a
  // WriteBatch, the memtable and then a flushed table: a replay's commit
  // at the end of a partition. The offset and outbox still go through a
  // WriteBatch, after the ingest. 0 never ingests. Default: 0
  size_t ingest_min_customers = 0;
  // The Env the stores' files are written and read through; null for the
  // default one. Not owned; must outlive the stores. For tests (a disk
  // that fills up, tests/testing/full_disk.h). Default: null
  rocksdb::Env* env = nullptr;
};

// Memory shared by all partition stores of one worker: the block cache and
// the write buffer budget, so memory is bounded however many partitions the
// worker holds. Create one per process; thread-safe; must outlive the
// stores opened with it.
class StoreResources {
 public:
  explicit StoreResources(const StoreOptions& options);
  ~StoreResources();

  const StoreOptions& options() const { return options_; }
  const std::shared_ptr<rocksdb::Cache>& block_cache() const {
    return block_cache_;
  }
  const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffers() const {
    return write_buffers_;
  }

 private:
  StoreOptions options_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
};

// One atomic commit of a partition task: the customer records it changed
// (state plus the fingerprints of the events applied to it), records for
// the outbox (dead letters, transitions), and the next log offset.
// The latest state as_of a store has seen, with the customer that has it.
struct LatestStateMark {
  int64_t as_of_seconds = 0;
  int32_t as_of_nanos = 0;
  std::string customer_id;  // empty: none

  bool After(const LatestStateMark& o) const {
    return o.customer_id.empty() ||
           std::make_pair(as_of_seconds, as_of_nanos) >
               std::make_pair(o.as_of_seconds, o.as_of_nanos);
  }
};

struct CommitBatch {
  struct Put {
    std::string key;
    std::string value;
  };
  std::vector<Put> customers;       // customer_id -> serialized state
  std::vector<std::string> outbox;  // serialized outbox records
  // Secondary index keys to add and to remove (view_index.h:
  // StageIndexUpdate fills them).
  std::vector<std::string> index_puts;
  std::vector<std::string> index_deletes;
  // History entries to add ("history" column family; customer_record.h:
  // StageCustomer fills them).
  std::vector<Put> history_puts;
  // The latest state as_of among the records (StageIndexUpdate sets it);
  // the store keeps the maximum over commits.
  LatestStateMark latest_state;
  // The last scheduled population boundary done (Unix seconds), written
  // with the pass's changes so a restarted worker knows the next one.
  // Default: unset (kept as stored)
  std::optional<int64_t> scheduled_pass_seconds;
  int64_t next_offset = 0;
};

// Walks the customer records of one store in key order (one RocksDB
// iterator over a consistent snapshot). Created by
// PartitionStore::NewCustomerCursor; owned by one thread; must not outlive
// the store.
class CustomerCursor {
 public:
  explicit CustomerCursor(std::unique_ptr<rocksdb::Iterator> it);
  ~CustomerCursor();

  // True while positioned on a record.
  bool Valid() const;
  void Next();
  // The current record; valid until the next Next().
  absl::string_view key() const;
  absl::string_view value() const;
  // The iterator's error once Valid() is false (kUnavailable, kDataLoss).
  absl::Status status() const;

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

class PartitionStore;

// Table files that a commit's customer records and history entries are
// written to as they are staged (PartitionStore::NewTableStream), rather
// than all at the commit: for a commit whose customers are staged in key
// order (a replay's last batch of a partition), so that each record goes
// into its file while it is still in the CPU cache and is not held in
// memory until the commit. The commit (PartitionStore::Commit with the
// stream) ingests the files with the rest of its batch; files the stream
// wrote and no commit ingested are removed with it. Owned by one thread;
// must not outlive the store.
class TableStream {
 public:
  ~TableStream();
  TableStream(const TableStream&) = delete;
  TableStream& operator=(const TableStream&) = delete;

  // Moves batch->customers and batch->history_puts into the files and
  // clears them. Each list's keys must ascend, after every key moved
  // before (else kInvalidArgument, from the table writer).
  absl::Status Take(CommitBatch* batch);

 private:
  friend class PartitionStore;
  // A table file being written; removed when it goes, unless moved in.
  struct File {
    File();
    ~File();
    std::unique_ptr<rocksdb::SstFileWriter> writer;  // opened at the first
    std::string path;
  };
  explicit TableStream(PartitionStore* store) : store_(store) {}
  absl::Status Put(File* file, rocksdb::ColumnFamilyHandle* cf,
                   absl::string_view name, const CommitBatch::Put& put);

  PartitionStore* store_;
  File customers_, history_;
  bool failed_ = false;  // a Take failed: the files are incomplete
};

// The state of one log partition in its own RocksDB instance (a directory),
// so a partition can be moved, checkpointed or dropped on its own. Column
// families: "default" (meta: next offset, partition, format version),
// "customers" (customer_id -> record), "outbox" (big-endian sequence ->
// record), "index" (secondary index keys, view_index.h), "history" (the
// customers' grade and lifecycle history entries, customer_record.h). A
// store written
// before the index existed gets the index column family and a backfill on
// its first read-write open; read-only it opens without (index_ready()
// false). Owned by one partition task; reads are thread-safe, Commit is not to
// be called concurrently.
class PartitionStore {
 public:
  // Opens or creates the store of `partition` in `dir`. kDataLoss if the
  // directory holds another partition's store or is corrupt.
  static absl::StatusOr<std::unique_ptr<PartitionStore>> Open(
      const StoreResources& resources, const std::string& dir,
      int32_t partition);
  // Opens an existing store read-only. Takes no lock, so it works while a
  // worker holds the store; it sees the data as of the open (what was
  // flushed or in the WAL then), not later commits. For the queries.
  static absl::StatusOr<std::unique_ptr<PartitionStore>> OpenReadOnly(
      const StoreResources& resources, const std::string& dir);
  ~PartitionStore();

  int32_t partition() const { return partition_; }
  const std::string& dir() const { return dir_; }

  // The offset to resume from: one past the last committed record; 0 for a
  // new store.
  int64_t next_offset() const { return next_offset_; }

  // The stored state of `customer_id`, or nullopt if none.
  absl::StatusOr<std::optional<std::string>> GetCustomer(
      absl::string_view customer_id) const;
  // Batched GetCustomer: result[i] is for ids[i].
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGetCustomers(
      absl::Span<const std::string> ids) const;

  // Writes everything in `batch` in one RocksDB WriteBatch (WAL on).
  // Either all of it is durable afterwards or none of it. (A large commit
  // to a store without the WAL may ingest table files first:
  // StoreOptions::ingest_min_customers; such stores are rebuilt, not
  // recovered, after a crash.)
  absl::Status Commit(const CommitBatch& batch);
  // The same for a batch whose customer records and history entries went
  // to `stream` (none left in the batch): its files are ingested with the
  // batch's index keys, then the rest is written. The stream is spent.
  absl::Status Commit(const CommitBatch& batch, TableStream* stream);

  // True when a commit of `customers` records is ingested as table files
  // (a store without the WAL, StoreOptions::ingest_min_customers), so that
  // its records may be streamed to them as they are staged.
  bool IngestsCommitOf(size_t customers) const {
    return disable_wal_ && ingest_min_customers_ > 0 &&
           customers >= ingest_min_customers_;
  }
  std::unique_ptr<TableStream> NewTableStream();

  // Calls fn(customer_id, state) for every customer in key order; stops
  // early with fn's error.
  absl::Status ForEachCustomer(
      const std::function<absl::Status(absl::string_view, absl::string_view)>&
          fn) const;

  // A cursor on the first customer record (for merging stores in key
  // order).
  std::unique_ptr<CustomerCursor> NewCustomerCursor() const;
  // An iterator over the "history" column family (customer_record.h reads
  // it), or nullptr when the store has none (one written before it
  // existed, opened read-only).
  std::unique_ptr<rocksdb::Iterator> NewHistoryIterator() const;

  // True when the "index" column family is complete (every customer's
  // index keys are in it).
  bool index_ready() const { return index_ready_; }
  // Calls fn(key) for each index key starting with `prefix`, ascending,
  // until fn returns false. kFailedPrecondition when !index_ready().
  absl::Status ForEachIndexKey(
      absl::string_view prefix,
      const std::function<bool(absl::string_view)>& fn) const;
  // The latest state as_of of any record committed with index keys (valid
  // when index_ready(); customer_id empty when the store has none).
  const LatestStateMark& latest_state() const { return latest_state_; }

  // The last scheduled population boundary committed (Unix seconds), or
  // nullopt when none was (CommitBatch::scheduled_pass_seconds).
  std::optional<int64_t> scheduled_pass_seconds() const {
    return scheduled_pass_seconds_;
  }

  // Outbox records with sequence >= from, in order, at most `max`.
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> ReadOutbox(
      uint64_t from, size_t max) const;
  // Removes outbox records with sequence < upto (after they were published).
  absl::Status TrimOutbox(uint64_t upto);

  // Commits whose records were ingested as table files
  // (StoreOptions::ingest_min_customers) since the store was opened.
  uint64_t ingested_commits() const { return ingested_commits_; }

  // The number of customer records: the entry count of the table file
  // when one file without deletions holds them all and the memtables are
  // empty (a replay's store), else ScanCountCustomers.
  absl::StatusOr<uint64_t> CountCustomers() const;
  // The same by a scan of the keys.
  absl::StatusOr<uint64_t> ScanCountCustomers() const;

  // Writes every memtable to table files and waits. Without a WAL (replay's
  // scratch stores) closing does this anyway; calling it first lets the
  // caller do it on its own thread.
  absl::Status FlushMemtables();

  // Writes a consistent copy of the store to `checkpoint_dir` (which must
  // not exist) with RocksDB Checkpoint: hard links where possible.
  absl::Status Checkpoint(const std::string& checkpoint_dir) const;

 private:
  PartitionStore() = default;
  static absl::StatusOr<std::unique_ptr<PartitionStore>> OpenImpl(
      const StoreResources& resources, const std::string& dir,
      int32_t partition, bool read_only);
  // Puts every customer's index keys and marks the index ready.
  absl::Status BackfillIndex();
  // The customer, history and index records of `batch` as table files,
  // ingested atomically (StoreOptions::ingest_min_customers).
  // With `stream`, the customer and history files are the stream's.
  absl::Status IngestRecords(const CommitBatch& batch, TableStream* stream);
  // A table writer for `cf` at a new path of this store, opened.
  absl::Status OpenTableFile(rocksdb::ColumnFamilyHandle* cf,
                             absl::string_view name, TableStream::File* file);
  friend class TableStream;

  std::string dir_;
  int32_t partition_ = -1;
  int64_t next_offset_ = 0;
  bool sync_commits_ = false;
  bool disable_wal_ = false;
  size_t ingest_min_customers_ = 0;
  uint64_t ingest_files_ = 0;  // table files written for ingestion
  uint64_t ingested_commits_ = 0;
  uint64_t next_outbox_seq_ = 0;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* customers_ = nullptr;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
  rocksdb::ColumnFamilyHandle* index_ = nullptr;    // null: not in this store
  rocksdb::ColumnFamilyHandle* history_ = nullptr;  // null: not in this store
  bool index_ready_ = false;
  LatestStateMark latest_state_;
  std::optional<int64_t> scheduled_pass_seconds_;
};

}  // namespace crm::store
