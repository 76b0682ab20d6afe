#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/kafka/kafka_log.h"
#include "engine/kafka/mock_cluster.h"
#include "engine/log/event_log.h"
#include "gtest/gtest.h"

namespace crm::kafka::testing {

// Records of one customer in a test: key "c<i>", values "c<i>#<seq>".
inline std::string TestKey(int customer) { return absl::StrCat("c", customer); }
inline std::string TestValue(int customer, int seq) {
  return absl::StrCat("c", customer, "#", seq);
}

// `customers` x `per_customer` records, interleaved by customer so every
// batch holds records of many keys: c0#0, c1#0, ..., c0#1, c1#1, ...
struct TestRecords {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<crm::log::RecordRef> Refs(size_t begin, size_t end) const {
    std::vector<crm::log::RecordRef> refs;
    for (size_t i = begin; i < end && i < keys.size(); ++i) {
      refs.push_back({keys[i], values[i]});
    }
    return refs;
  }
  size_t size() const { return keys.size(); }
};

inline TestRecords MakeRecords(int customers, int per_customer,
                               int first_seq = 0) {
  TestRecords r;
  for (int s = first_seq; s < first_seq + per_customer; ++s) {
    for (int c = 0; c < customers; ++c) {
      r.keys.push_back(TestKey(c));
      r.values.push_back(TestValue(c, s));
    }
  }
  return r;
}

// Every record of `partition` from its first kept offset to its end offset
// at the time of the call. Fails the test on any error or a short read.
inline std::vector<crm::log::LogRecord> ReadPartition(KafkaLog& log,
                                                      int32_t partition,
                                                      int64_t from = -1) {
  std::vector<crm::log::LogRecord> out;
  auto begin = log.BeginOffset(partition);
  auto end = log.EndOffset(partition);
  EXPECT_TRUE(begin.ok()) << begin.status();
  EXPECT_TRUE(end.ok()) << end.status();
  if (!begin.ok() || !end.ok()) return out;
  const int64_t start = from < 0 ? *begin : from;
  auto reader = log.OpenReader(partition, start);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return out;
  // Bounded: a read that makes no progress for 10 s fails the test.
  while ((*reader)->position() < *end) {
    auto n = (*reader)->Poll(&out, 500, absl::Seconds(10));
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) {
      ADD_FAILURE() << "partition " << partition << " stalled at "
                    << (*reader)->position() << " of " << *end;
      break;
    }
  }
  return out;
}

// Checks the whole topic holds exactly `expected` (each record once, on
// partition PartitionFor(key), per-key order kept, offsets dense from 0).
inline void ExpectTopicHoldsExactly(KafkaLog& log,
                                    const TestRecords& expected) {
  std::map<std::string, std::vector<std::string>> want;
  for (size_t i = 0; i < expected.size(); ++i) {
    want[expected.keys[i]].push_back(expected.values[i]);
  }
  std::map<std::string, std::vector<std::string>> got;
  size_t total = 0;
  for (int32_t p = 0; p < log.partitions(); ++p) {
    std::vector<crm::log::LogRecord> records = ReadPartition(log, p);
    int64_t next = 0;
    for (const crm::log::LogRecord& r : records) {
      EXPECT_EQ(r.partition, p);
      EXPECT_EQ(r.offset, next) << "gap or repeat in partition " << p;
      next = r.offset + 1;
      EXPECT_EQ(crm::log::PartitionFor(r.key, log.partitions()), p)
          << "key " << r.key << " on the wrong partition";
      got[r.key].push_back(r.value);
    }
    total += records.size();
  }
  EXPECT_EQ(total, expected.size());
  EXPECT_EQ(got, want);
}

// Like ExpectTopicHoldsExactly, but a record may appear more than once (a
// later copy is ignored): every record is there, on its partition, offsets
// are dense, and each key's first copies are in order. Returns the number of
// extra copies. For faults where librdkafka 2.0.2's mock cluster, which has
// no duplicate window for idempotent producers, may write a resent batch
// twice; a real broker would not, and consumers deduplicate by event_id.
inline size_t ExpectTopicHoldsAtLeastOnce(KafkaLog& log,
                                          const TestRecords& expected) {
  std::map<std::string, std::vector<std::string>> want;
  for (size_t i = 0; i < expected.size(); ++i) {
    want[expected.keys[i]].push_back(expected.values[i]);
  }
  std::map<std::string, std::vector<std::string>> got;
  size_t duplicates = 0;
  for (int32_t p = 0; p < log.partitions(); ++p) {
    std::set<std::string> seen;
    int64_t next = 0;
    for (const crm::log::LogRecord& r : ReadPartition(log, p)) {
      EXPECT_EQ(r.offset, next) << "gap in partition " << p;
      next = r.offset + 1;
      EXPECT_EQ(crm::log::PartitionFor(r.key, log.partitions()), p);
      if (seen.insert(r.value).second) {
        got[r.key].push_back(r.value);
      } else {
        ++duplicates;
      }
    }
  }
  EXPECT_EQ(got, want);
  return duplicates;
}

}  // namespace crm::kafka::testing
