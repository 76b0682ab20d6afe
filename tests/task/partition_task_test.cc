#include "engine/task/partition_task.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crm/v1/runtime.pb.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"
#include "engine/event/codec.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/testing/full_disk.h"
#include "tests/testing/temp_dir.h"
#include "tools/generator/generator.h"

namespace crm::task {
namespace {

// A generated history as the records of one partition, offsets 0..n-1.
std::vector<log::LogRecord> History(int customers, int months, uint64_t seed) {
  generator::GeneratorOptions options;
  options.customers = customers;
  options.months = months;
  options.seed = seed;
  auto gen = *generator::Generator::Create(options);
  std::vector<log::LogRecord> out;
  v1::Envelope e;
  while (gen->Next(&e)) {
    log::LogRecord r;
    r.offset = static_cast<int64_t>(out.size());
    r.key = e.customer_id();
    r.value = e.SerializeAsString();
    out.push_back(std::move(r));
  }
  return out;
}

// Everything a store holds that a query or a resumed task can see.
std::string Dump(const store::PartitionStore& s) {
  std::string out = absl::StrCat("next_offset=", s.next_offset(), "\n");
  EXPECT_TRUE(s.ForEachCustomer([&](absl::string_view k, absl::string_view v) {
                 absl::StrAppend(&out, k, "=", absl::CEscape(v), "\n");
                 return absl::OkStatus();
               }).ok());
  auto outbox = s.ReadOutbox(0, 1 << 30);
  EXPECT_TRUE(outbox.ok());
  for (const auto& [seq, rec] : *outbox) {
    absl::StrAppend(&out, "outbox ", seq, "=", absl::CEscape(rec), "\n");
  }
  return out;
}

class PartitionTaskTest : public ::testing::Test {
 protected:
  void SetUp() override { rules_ = projections::DefaultRules(); }

  // Applies `records` to a fresh store at `name` in batches of `batch` and
  // returns the store's dump.
  std::string Run(const std::string& name,
                  const std::vector<log::LogRecord>& records, size_t batch,
                  TaskOptions options = {}) {
    auto store = *store::PartitionStore::Open(resources_, tmp_.File(name), 0);
    PartitionTask task(store.get(), &rules_, options);
    for (size_t i = 0; i < records.size(); i += batch) {
      size_t n = std::min(batch, records.size() - i);
      absl::Status s =
          task.ApplyBatch(absl::MakeConstSpan(records).subspan(i, n));
      EXPECT_TRUE(s.ok()) << s;
    }
    EXPECT_TRUE(task.Flush().ok());
    last_stats_ = task.stats();
    return Dump(*store);
  }

  v1::Rules rules_;
  store::StoreResources resources_{store::StoreOptions{}};
  testing::TempDir tmp_;
  TaskStats last_stats_;
};

TEST_F(PartitionTaskTest, BatchSizesGiveIdenticalStores) {
  const auto records = History(40, 12, 7);
  ASSERT_GT(records.size(), 500u);
  const std::string one = Run("b1", records, 1);
  EXPECT_EQ(last_stats_.applied, static_cast<int64_t>(records.size()));
  EXPECT_EQ(last_stats_.dead_letters, 0);
  EXPECT_EQ(Run("b7", records, 7), one);
  EXPECT_EQ(Run("b1000", records, 1000), one);
  EXPECT_NE(one.find("next_offset=" + std::to_string(records.size())),
            std::string::npos);
}

// Dead letters take their place in the log among the transitions in the
// outbox, whatever the batches (until 2026-12-07 a batch's dead letters
// went before its transitions).
TEST_F(PartitionTaskTest, BatchSizesGiveIdenticalOutboxesWithDeadLetters) {
  auto records = History(30, 12, 13);
  ASSERT_GT(records.size(), 400u);
  for (size_t i : {3, 150, 151, 377}) records[i].value = "garbage";
  const std::string one = Run("d1", records, 1);
  EXPECT_EQ(last_stats_.dead_letters, 4);
  EXPECT_EQ(Run("d7", records, 7), one);
  EXPECT_EQ(Run("d1000", records, 1000), one);
}

// A replay's tasks count transitions without putting them in the outbox:
// the customer records are the same, the outbox has none, the count is the
// number a publishing task stores.
TEST_F(PartitionTaskTest, TransitionsCanBeCountedWithoutTheOutbox) {
  const auto records = History(30, 12, 4);
  auto store = *store::PartitionStore::Open(resources_, tmp_.File("pub"), 0);
  {
    PartitionTask task(store.get(), &rules_);
    ASSERT_TRUE(task.ApplyBatch(records).ok());
    ASSERT_TRUE(task.Flush().ok());
    last_stats_ = task.stats();
  }
  const TaskStats published = last_stats_;
  ASSERT_GT(published.transitions, 0);
  EXPECT_EQ(static_cast<int64_t>(store->ReadOutbox(0, 1 << 30)->size()),
            published.transitions);

  TaskOptions counted;
  counted.transitions_to_outbox = false;
  const std::string dump = Run("counted", records, 100, counted);
  EXPECT_EQ(last_stats_.transitions, published.transitions);
  EXPECT_EQ(dump.find("outbox "), std::string::npos) << "no outbox records";
  std::string customers_only;
  for (absl::string_view line : absl::StrSplit(Dump(*store), '\n')) {
    if (!absl::StartsWith(line, "outbox ")) {
      absl::StrAppend(&customers_only, line, "\n");
    }
  }
  // Dump's lines end in a newline; the split leaves one empty line more.
  EXPECT_EQ(customers_only, dump + "\n");
}

// A batch decoded by two threads at once, each a range of it (as a replay
// splitting rule sets does), holds what Decode makes: the same events,
// dead-letter reasons and skips, and applied, the same store.
TEST_F(PartitionTaskTest, ABatchDecodedInRangesOnTwoThreadsEqualsOneDecode) {
  auto records = History(30, 12, 5);
  ASSERT_GT(records.size(), 300u);
  records[3].value = "not a protobuf";
  records[records.size() / 2].key = "someone-else";  // differs from the event
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].offset = static_cast<int64_t>(i);
  }
  const absl::Time cut =
      FromProto(event::DecodeBinary(records[records.size() * 3 / 4].value)
                    ->occurred_at());

  DecodedBatch whole;
  PartitionTask::Decode(records, &whole);
  const size_t skipped_whole = PartitionTask::SkipAfter(cut, &whole);

  DecodedBatch ranged;
  PartitionTask::PrepareDecode(records, &ranged);
  const size_t half = records.size() / 2 + 1;
  size_t skipped[2] = {0, 0};
  std::thread other([&] {
    PartitionTask::DecodeRange(half, records.size(), &ranged);
    skipped[1] = PartitionTask::SkipAfter(cut, &ranged, half, records.size());
  });
  PartitionTask::DecodeRange(0, half, &ranged);
  skipped[0] = PartitionTask::SkipAfter(cut, &ranged, 0, half);
  other.join();

  ASSERT_GT(skipped_whole, 0u);
  EXPECT_EQ(skipped[0], 0u);  // the cut is in the second half
  EXPECT_EQ(skipped[0] + skipped[1], skipped_whole);
  ASSERT_EQ(ranged.events.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(ranged.errors[i], whole.errors[i]) << i;
    EXPECT_EQ(ranged.skipped[i], whole.skipped[i]) << i;
    EXPECT_EQ(ranged.event(i).SerializeAsString(),
              whole.event(i).SerializeAsString())
        << i;
  }
  EXPECT_TRUE(absl::StartsWith(ranged.errors[3], "undecodable"));
  EXPECT_TRUE(absl::StrContains(ranged.errors[records.size() / 2],
                                "differs from the record key"));

  auto apply = [&](const std::string& name, const DecodedBatch& batch) {
    auto store = *store::PartitionStore::Open(resources_, tmp_.File(name), 0);
    PartitionTask task(store.get(), &rules_);
    EXPECT_TRUE(task.ApplyDecoded(batch).ok());
    EXPECT_TRUE(task.Flush().ok());
    EXPECT_EQ(task.stats().dead_letters, 2);
    EXPECT_EQ(task.stats().skipped, static_cast<int64_t>(skipped_whole));
    return Dump(*store);
  };
  EXPECT_EQ(apply("ranged", ranged), apply("whole", whole));
}

// Customers numbered by record key before decoding (NumberKeys, as a
// replay numbers the batch it reads ahead), then decoded on two threads:
// the invalid records have no customer, a customer with no valid record
// has a number no record has, and the tasks apply the batch as one
// numbered after decoding, in log order or (a last batch) by id.
TEST_F(PartitionTaskTest, ABatchNumberedByKeyBeforeDecodingEqualsOneAfter) {
  auto records = History(30, 12, 5);
  ASSERT_GT(records.size(), 300u);
  records[3].value = "not a protobuf";
  records[records.size() / 2].key = "someone-else";  // only invalid records
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].offset = static_cast<int64_t>(i);
  }
  auto apply = [&](const std::string& name, const DecodedBatch& batch,
                   bool last) {
    auto store = *store::PartitionStore::Open(resources_, tmp_.File(name), 0);
    PartitionTask task(store.get(), &rules_);
    if (last) task.ExpectLastBatch();
    EXPECT_TRUE(task.ApplyDecoded(batch).ok());
    EXPECT_TRUE(task.FlushAndDrop().ok());
    EXPECT_EQ(task.stats().dead_letters, 2);
    return Dump(*store);
  };
  for (const bool in_key_order : {false, true}) {
    SCOPED_TRACE(in_key_order ? "in key order" : "in log order");
    DecodedBatch after;
    PartitionTask::Decode(records, &after);
    PartitionTask::NumberCustomers(&after, in_key_order);

    std::vector<log::LogRecordView> views;
    log::ViewsOf(records, &views);
    PartitionTask::KeyNumbers numbers;
    PartitionTask::NumberKeys(views, in_key_order, &numbers);
    DecodedBatch before;
    PartitionTask::PrepareDecode(views, &numbers, &before);
    const size_t half = records.size() / 2 + 1;
    std::thread other(
        [&] { PartitionTask::DecodeRange(half, records.size(), &before); });
    PartitionTask::DecodeRange(0, half, &before);
    other.join();

    EXPECT_EQ(before.in_key_order, in_key_order);
    EXPECT_EQ(before.customer_ids.size(), after.customer_ids.size() + 1);
    if (in_key_order) {
      EXPECT_TRUE(std::is_sorted(before.customer_ids.begin(),
                                 before.customer_ids.end()));
    }
    ASSERT_EQ(before.customer.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      if (!before.errors[i].empty()) {
        EXPECT_EQ(before.customer[i], DecodedBatch::kNoCustomer) << i;
      } else {
        EXPECT_EQ(before.customer_ids[before.customer[i]], records[i].key) << i;
      }
    }
    const std::string tag = in_key_order ? "-key" : "-log";
    EXPECT_EQ(apply("before" + tag, before, in_key_order),
              apply("after" + tag, after, in_key_order));
  }
}

// Tasks of two rule sets applied together, customer by customer, end as
// if each had applied the batches alone: the same stores, commits mid-way
// included. A task that has applied part of a batch already (so the tasks
// apply different records) takes its own turn.
TEST_F(PartitionTaskTest, TasksAppliedTogetherEqualTasksAppliedAlone) {
  auto records = History(40, 12, 9);
  ASSERT_GT(records.size(), 500u);
  records[5].value = "garbage";
  v1::Rules vip = rules_;
  vip.set_version("test-vip-low");
  vip.mutable_value_tier()->set_vip_min_minor(
      rules_.value_tier().vip_min_minor() / 4);
  TaskOptions small;  // a commit after every batch
  small.commit_every_records = 97;
  small.commit_max_dirty = 13;

  auto alone = [&](const std::string& name, const v1::Rules& rules) {
    auto store = *store::PartitionStore::Open(resources_, tmp_.File(name), 0);
    PartitionTask task(store.get(), &rules, small);
    DecodedBatch batch;
    for (size_t i = 0; i < records.size(); i += 150) {
      PartitionTask::Decode(absl::MakeConstSpan(records).subspan(
                                i, std::min<size_t>(150, records.size() - i)),
                            &batch);
      EXPECT_TRUE(task.ApplyDecoded(batch).ok());
    }
    EXPECT_TRUE(task.Flush().ok());
    return Dump(*store);
  };
  const std::string want_default = alone("alone-default", rules_);
  const std::string want_vip = alone("alone-vip", vip);
  ASSERT_NE(want_default, want_vip);

  for (const bool one_ahead : {false, true}) {
    SCOPED_TRACE(one_ahead ? "one task ahead" : "alike");
    const std::string tag = one_ahead ? "ahead" : "alike";
    auto store_a =
        *store::PartitionStore::Open(resources_, tmp_.File("a-" + tag), 0);
    auto store_b =
        *store::PartitionStore::Open(resources_, tmp_.File("b-" + tag), 0);
    PartitionTask a(store_a.get(), &rules_, small);
    PartitionTask b(store_b.get(), &vip, small);
    DecodedBatch batch;
    if (one_ahead) {  // b has the first 40 records already
      PartitionTask::Decode(absl::MakeConstSpan(records).subspan(0, 40),
                            &batch);
      ASSERT_TRUE(b.ApplyDecoded(batch).ok());
    }
    PartitionTask* both[] = {&a, &b};
    for (size_t i = 0; i < records.size(); i += 150) {
      PartitionTask::Decode(absl::MakeConstSpan(records).subspan(
                                i, std::min<size_t>(150, records.size() - i)),
                            &batch);
      ASSERT_TRUE(PartitionTask::ApplyDecodedTogether(both, batch).ok());
    }
    ASSERT_TRUE(a.Flush().ok());
    ASSERT_TRUE(b.Flush().ok());
    EXPECT_EQ(a.stats().dead_letters, 1);
    EXPECT_EQ(b.stats().dead_letters, 1);
    EXPECT_GT(a.stats().commits, 3);
    EXPECT_EQ(Dump(*store_a), want_default);
    EXPECT_EQ(Dump(*store_b), want_vip);
  }
}

// skip_after: the events after it consumed but not applied; the customers
// are those of the log without them.
TEST_F(PartitionTaskTest, EventsAfterSkipAfterAreConsumedNotApplied) {
  const auto records = History(30, 12, 8);
  std::vector<absl::Time> times;
  for (const auto& r : records) {
    v1::Envelope e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    times.push_back(FromProto(e.occurred_at()));
  }
  std::vector<absl::Time> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const absl::Time until = sorted[sorted.size() / 2];
  std::vector<log::LogRecord> cut;
  for (size_t i = 0; i < records.size(); ++i) {
    if (times[i] > until) continue;
    cut.push_back(records[i]);
    cut.back().offset = static_cast<int64_t>(cut.size()) - 1;
  }
  ASSERT_GT(cut.size(), 0u);
  ASSERT_LT(cut.size(), records.size());
  TaskOptions options;
  options.skip_after = until;
  const std::string skipping = Run("skip", records, 37, options);
  EXPECT_EQ(last_stats_.skipped,
            static_cast<int64_t>(records.size() - cut.size()));
  EXPECT_EQ(last_stats_.applied, static_cast<int64_t>(cut.size()));
  EXPECT_EQ(last_stats_.dead_letters, 0);
  const std::string reference = Run("cut", cut, 37);
  // All offsets consumed; the rest is the cut log's.
  auto body = [](const std::string& dump) {
    return dump.substr(dump.find('\n'));
  };
  EXPECT_EQ(skipping.substr(0, skipping.find('\n')),
            absl::StrCat("next_offset=", records.size()));
  EXPECT_EQ(body(skipping), body(reference));
}

// The end of a replay partition: everything committed as by Flush, then
// no state left cached and the budget given back.
TEST_F(PartitionTaskTest, FlushAndDropCommitsThenHoldsNothing) {
  const auto records = History(30, 12, 6);
  const std::string flushed = Run("flushed", records, 100);
  TaskOptions options;
  auto store = *store::PartitionStore::Open(resources_, tmp_.File("drop"), 0);
  PartitionTask task(store.get(), &rules_, options);
  ASSERT_TRUE(task.ApplyBatch(records).ok());
  ASSERT_GT(task.cached_states(), 0u);
  ASSERT_TRUE(task.FlushAndDrop().ok());
  EXPECT_FALSE(task.has_pending());
  EXPECT_EQ(task.cached_states(), 0u);
  EXPECT_EQ(options.budget->bytes.load(), 0);
  EXPECT_EQ(options.budget->cached.load(), 0);
  EXPECT_EQ(options.budget->dirty.load(), 0);
  EXPECT_EQ(Dump(*store), flushed);
}

// ExpectLastBatch: each customer staged as soon as its events in the last
// batch are applied, its parsed state freed; the store as without it.
// With a garbage record and a redelivered event in that batch, after
// earlier batches (some of them committed), alone and applied together.
TEST_F(PartitionTaskTest, TheLastBatchStagesEachCustomerAsApplied) {
  auto records = History(40, 12, 11);
  ASSERT_GT(records.size(), 600u);
  records[450].value = "garbage";
  log::LogRecord again = records[420];  // the same event once more
  again.offset = static_cast<int64_t>(records.size());
  records.push_back(again);
  v1::Rules vip = rules_;
  vip.set_version("test-vip-low");
  vip.mutable_value_tier()->set_vip_min_minor(
      rules_.value_tier().vip_min_minor() / 4);
  TaskOptions options;
  options.commit_every_records = 150;  // the first batch commits, not the 2nd
  auto reference = [&](const std::string& name, const v1::Rules& rules) {
    auto store = *store::PartitionStore::Open(resources_, tmp_.File(name), 0);
    PartitionTask task(store.get(), &rules, options);
    EXPECT_TRUE(
        task.ApplyBatch(absl::MakeConstSpan(records).subspan(0, 160)).ok());
    EXPECT_TRUE(
        task.ApplyBatch(absl::MakeConstSpan(records).subspan(160, 100)).ok());
    EXPECT_TRUE(
        task.ApplyBatch(absl::MakeConstSpan(records).subspan(260)).ok());
    EXPECT_TRUE(task.FlushAndDrop().ok());
    EXPECT_EQ(task.stats().duplicates, 1);
    EXPECT_EQ(task.stats().dead_letters, 1);
    return Dump(*store);
  };
  const std::string want_default = reference("ref-default", rules_);
  const std::string want_vip = reference("ref-vip", vip);
  ASSERT_NE(want_default, want_vip);

  // The whole log as the last batch.
  {
    auto store = *store::PartitionStore::Open(resources_, tmp_.File("one"), 0);
    PartitionTask task(store.get(), &rules_, TaskOptions{});
    task.ExpectLastBatch();
    ASSERT_TRUE(task.ApplyBatch(records).ok());
    EXPECT_EQ(task.CachedStateBytes(), 0u);  // every state staged and freed
    ASSERT_TRUE(task.FlushAndDrop().ok());
    EXPECT_EQ(Dump(*store), want_default);
  }
  // After two batches, the rest as the last batch of two tasks together.
  auto store_a = *store::PartitionStore::Open(resources_, tmp_.File("a"), 0);
  auto store_b = *store::PartitionStore::Open(resources_, tmp_.File("b"), 0);
  PartitionTask a(store_a.get(), &rules_, options);
  PartitionTask b(store_b.get(), &vip, options);
  PartitionTask* both[] = {&a, &b};
  // The same batches as `a`, not told which is the last.
  auto store_c = *store::PartitionStore::Open(resources_, tmp_.File("c"), 0);
  PartitionTask c(store_c.get(), &rules_, options);
  DecodedBatch batch;
  for (const auto& [from, n] : {std::pair<size_t, size_t>{0, 160},
                                std::pair<size_t, size_t>{160, 100}}) {
    PartitionTask::Decode(absl::MakeConstSpan(records).subspan(from, n),
                          &batch);
    ASSERT_TRUE(PartitionTask::ApplyDecodedTogether(both, batch).ok());
    ASSERT_TRUE(c.ApplyDecoded(batch).ok());
  }
  ASSERT_GT(a.stats().commits, 0);
  ASSERT_TRUE(a.has_pending());
  PartitionTask::Decode(absl::MakeConstSpan(records).subspan(260), &batch);
  // Numbered by customer id, as a replay numbers a last batch.
  PartitionTask::NumberCustomers(&batch, /*in_key_order=*/true);
  ASSERT_TRUE(
      std::is_sorted(batch.customer_ids.begin(), batch.customer_ids.end()));
  for (size_t i = 0; i < batch.records.size(); ++i) {
    if (!batch.errors[i].empty()) {
      EXPECT_EQ(batch.customer[i], DecodedBatch::kNoCustomer);
    } else {
      EXPECT_EQ(batch.customer_ids[batch.customer[i]], batch.records[i].key);
    }
  }
  a.ExpectLastBatch();
  b.ExpectLastBatch();
  ASSERT_TRUE(PartitionTask::ApplyDecodedTogether(both, batch).ok());
  ASSERT_TRUE(c.ApplyDecoded(batch).ok());
  const uint64_t a_bytes = a.CachedStateBytes();
  // The customers of the last batch hold no parsed state, only an entry
  // until the commit; `c` keeps every state parsed.
  EXPECT_GT(a.cached_states(), 0u);
  EXPECT_LT(a_bytes, c.CachedStateBytes());
  ASSERT_TRUE(c.FlushAndDrop().ok());
  EXPECT_EQ(Dump(*store_c), want_default);
  ASSERT_TRUE(a.FlushAndDrop().ok());
  ASSERT_TRUE(b.FlushAndDrop().ok());
  EXPECT_EQ(Dump(*store_a), want_default);
  EXPECT_EQ(Dump(*store_b), want_vip);
  EXPECT_LT(a_bytes, a.stats().state_bytes_written * 4);
}

// A batch after the last one that meets a staged customer fails before a
// commit; after the commit the task goes on, reading states back.
TEST_F(PartitionTaskTest, ABatchAfterTheLastNeedsACommitFirst) {
  const auto records = History(20, 12, 12);
  ASSERT_GT(records.size(), 300u);
  const std::string want = Run("want", records, 1000);
  const size_t half = records.size() / 2;
  auto first = absl::MakeConstSpan(records).subspan(0, half);
  auto rest = absl::MakeConstSpan(records).subspan(half);
  {
    auto store = *store::PartitionStore::Open(resources_, tmp_.File("x"), 0);
    PartitionTask task(store.get(), &rules_, TaskOptions{});
    task.ExpectLastBatch();
    ASSERT_TRUE(task.ApplyBatch(first).ok());
    const absl::Status s = task.ApplyBatch(rest);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "ExpectLastBatch")) << s;
    // Everything uncommitted was dropped: from the stored offset again.
    EXPECT_EQ(task.next_offset(), 0);
    EXPECT_FALSE(task.has_pending());
  }
  auto store = *store::PartitionStore::Open(resources_, tmp_.File("y"), 0);
  TaskOptions options;
  PartitionTask task(store.get(), &rules_, options);
  task.ExpectLastBatch();
  ASSERT_TRUE(task.ApplyBatch(first).ok());
  ASSERT_TRUE(task.Flush().ok());
  EXPECT_EQ(task.cached_states(), 0u);      // staged ones go with the commit
  ASSERT_TRUE(task.ApplyBatch(rest).ok());  // no longer the last: kept
  EXPECT_GT(task.CachedStateBytes(), 0u);
  EXPECT_GT(task.stats().state_loads, 0);
  ASSERT_TRUE(task.FlushAndDrop().ok());
  EXPECT_EQ(options.budget->bytes.load(), 0);
  EXPECT_EQ(options.budget->cached.load(), 0);
  EXPECT_EQ(options.budget->dirty.load(), 0);
  EXPECT_EQ(Dump(*store), want);
}

TEST_F(PartitionTaskTest, TinyStateCacheGivesIdenticalStore) {
  const auto records = History(30, 6, 3);
  TaskOptions tiny;
  tiny.state_cache_entries = 1;
  tiny.commit_every_records = 40;  // commit (and evict) often
  const std::string cached = Run("big", records, 50);
  EXPECT_EQ(Run("tiny", records, 50, tiny), cached);
  EXPECT_GT(last_stats_.state_loads, 0);
}

TEST_F(PartitionTaskTest, RedeliveredRecordsAreSkipped) {
  const auto records = History(20, 6, 5);
  const size_t n = records.size();
  const std::string clean = Run("clean", records, 100);

  auto store = *store::PartitionStore::Open(resources_, tmp_.File("re"), 0);
  PartitionTask task(store.get(), &rules_);
  auto all = absl::MakeConstSpan(records);
  ASSERT_TRUE(task.ApplyBatch(all.subspan(0, n / 2)).ok());
  // At-least-once delivery: the log hands back a quarter already applied.
  ASSERT_TRUE(task.ApplyBatch(all.subspan(n / 4, n - n / 4)).ok());
  ASSERT_TRUE(task.Flush().ok());
  EXPECT_EQ(task.stats().redelivered, static_cast<int64_t>(n / 2 - n / 4));
  EXPECT_EQ(task.stats().applied, static_cast<int64_t>(n));
  EXPECT_EQ(Dump(*store), clean);
}

TEST_F(PartitionTaskTest, ResumesFromStoredOffsetAfterReopen) {
  const auto records = History(20, 6, 9);
  const std::string clean = Run("clean", records, 64);
  const std::string dir = tmp_.File("resume");
  auto all = absl::MakeConstSpan(records);
  {
    auto store = *store::PartitionStore::Open(resources_, dir, 0);
    PartitionTask task(store.get(), &rules_);
    ASSERT_TRUE(task.ApplyBatch(all.subspan(0, 100)).ok());
    ASSERT_TRUE(task.Flush().ok());
    // Applied but never committed: a crash here loses it, and the restart
    // re-applies it from the log.
    ASSERT_TRUE(task.ApplyBatch(all.subspan(100, 50)).ok());
    EXPECT_TRUE(task.has_pending());
  }
  auto store = *store::PartitionStore::Open(resources_, dir, 0);
  PartitionTask task(store.get(), &rules_);
  EXPECT_EQ(task.next_offset(), 100);
  for (size_t i = task.next_offset(); i < records.size(); i += 64) {
    ASSERT_TRUE(task.ApplyBatch(all.subspan(i, std::min<size_t>(
                                                   64, records.size() - i)))
                    .ok());
  }
  ASSERT_TRUE(task.Flush().ok());
  EXPECT_EQ(Dump(*store), clean);
}

// The disk fills up at some moment of a run: in a commit's WAL write, in a
// memtable flush (a small write buffer budget makes them frequent) or in
// the files of the store's open. The failing call returns the file
// system's error naming the partition; the store keeps its last good
// commit (or the one that failed, if its WAL record was whole); and once
// there is space again a new task resumes from it to the same views as a
// run that never ran out. At six moments spread over the run.
TEST_F(PartitionTaskTest, ADiskThatFillsUpLosesNothingAndResumes) {
  const auto records = History(30, 12, 21);
  const auto all = absl::MakeConstSpan(records);
  constexpr size_t kBatch = 50;
  const std::string clean = Run("clean", records, kBatch);
  auto fs = std::make_shared<testing::FullDiskFileSystem>();
  auto env = testing::EnvOf(fs);
  store::StoreOptions options;
  options.env = env.get();
  options.write_buffer_budget_bytes = 256 << 10;
  store::StoreResources resources(options);

  // Applies the records from the store's offset on, committing each batch,
  // until the end or the first error.
  struct Outcome {
    absl::Status status;
    int64_t last_good = 0;  // offset of the last commit that succeeded
    int64_t attempted = 0;  // offset the failing commit would have stored
  };
  auto run = [&](const std::string& dir) {
    Outcome out;
    auto store = store::PartitionStore::Open(resources, dir, 0);
    if (!store.ok()) {
      out.status = store.status();
      return out;
    }
    PartitionTask task(store->get(), &rules_);
    out.last_good = out.attempted = task.next_offset();
    for (size_t at = static_cast<size_t>(task.next_offset());
         at < records.size(); at += kBatch) {
      const auto batch = all.subspan(at, std::min(kBatch, records.size() - at));
      out.attempted = batch.back().offset + 1;
      out.status = task.ApplyBatch(batch);
      if (out.status.ok()) out.status = task.Flush();
      if (!out.status.ok()) return out;
      out.last_good = task.next_offset();
    }
    return out;
  };

  ASSERT_TRUE(run(tmp_.File("sized")).status.ok());
  const int64_t total = fs->appended();
  ASSERT_GT(total, 100000);
  for (int moment = 0; moment < 6; ++moment) {
    const int64_t budget = moment == 0 ? 100 : total * moment / 6;
    SCOPED_TRACE(absl::StrCat("budget ", budget, " of ", total));
    const std::string dir = tmp_.File(absl::StrCat("full-", moment));
    fs->SetBudget(budget);
    const Outcome failed = run(dir);
    ASSERT_FALSE(failed.status.ok()) << "the disk never filled";
    EXPECT_NE(failed.status.message().find("No space left on device"),
              std::string::npos)
        << failed.status;

    fs->SetBudget(-1);  // space again
    {
      auto store = *store::PartitionStore::Open(resources, dir, 0);
      EXPECT_TRUE(store->next_offset() == failed.last_good ||
                  store->next_offset() == failed.attempted)
          << "resumes at " << store->next_offset() << ", last good commit "
          << failed.last_good << ", failed " << failed.attempted;
    }
    const Outcome resumed = run(dir);
    ASSERT_TRUE(resumed.status.ok()) << resumed.status;
    auto store = *store::PartitionStore::Open(resources_, dir, 0);
    EXPECT_EQ(Dump(*store), clean);
  }
}

// A last batch numbered in key order, on a store that ingests a commit of
// its size, writes each staged record straight to the commit's table
// files: the same store as applying batch by batch, and no file left
// beside it. On a full disk the batch fails with the file system's error,
// the store stays as it was without the stream's files, and once there is
// space the same batch goes in.
TEST_F(PartitionTaskTest, ALastBatchInKeyOrderStreamsItsRecordsToTableFiles) {
  const auto records = History(40, 12, 11);
  const std::string want = Run("plain", records, 100);
  auto fs = std::make_shared<testing::FullDiskFileSystem>();
  auto env = testing::EnvOf(fs);
  store::StoreOptions options;
  options.env = env.get();
  options.disable_wal = true;
  options.ingest_min_customers = 1;
  store::StoreResources resources(options);
  auto table_files_left = [](const std::string& dir) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      n += absl::StartsWith(e.path().filename().string(), "ingest-");
    }
    return n;
  };
  // The whole log as one last batch, with `budget` bytes of disk once the
  // store is open (negative: no limit).
  auto apply = [&](const std::string& dir, bool in_key_order, int64_t budget,
                   TaskStats* stats) -> absl::Status {
    fs->SetBudget(-1);
    CRM_ASSIGN_OR_RETURN(auto store,
                         store::PartitionStore::Open(resources, dir, 0));
    fs->SetBudget(budget);
    PartitionTask task(store.get(), &rules_);
    DecodedBatch batch;
    PartitionTask::Decode(records, &batch);
    if (in_key_order) PartitionTask::NumberCustomers(&batch, true);
    task.ExpectLastBatch();
    absl::Status s = task.ApplyDecoded(batch);
    if (s.ok()) s = task.FlushAndDrop();
    *stats = task.stats();
    return s;
  };
  auto dump = [&](const std::string& dir) {
    fs->SetBudget(-1);
    auto store = *store::PartitionStore::Open(resources, dir, 0);
    return std::make_pair(store->next_offset(), Dump(*store));
  };

  TaskStats stats;
  const std::string streamed = tmp_.File("streamed");
  ASSERT_TRUE(apply(streamed, true, -1, &stats).ok());
  EXPECT_EQ(stats.records_streamed, 40);  // every customer
  EXPECT_EQ(table_files_left(streamed), 0);
  EXPECT_EQ(dump(streamed).second, want);
  // Numbered in log order: staged, then written at the commit.
  const std::string staged = tmp_.File("staged");
  ASSERT_TRUE(apply(staged, false, -1, &stats).ok());
  EXPECT_EQ(stats.records_streamed, 0);
  EXPECT_EQ(dump(staged).second, want);

  const std::string full = tmp_.File("full");
  const absl::Status failed = apply(full, true, 4096, &stats);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("No space left on device"), std::string::npos)
      << failed;
  EXPECT_EQ(table_files_left(full), 0);
  EXPECT_EQ(dump(full).first, 0);  // nothing committed
  ASSERT_TRUE(apply(full, true, -1, &stats).ok());
  EXPECT_EQ(stats.records_streamed, 40);
  EXPECT_EQ(dump(full).second, want);
}

TEST_F(PartitionTaskTest, SameEventIdTwiceChangesNothing) {
  auto records = History(10, 6, 11);
  const std::string clean = Run("clean", records, 1000);
  // The same events sent again by a channel: new offsets, same event ids.
  const size_t n = records.size();
  for (size_t i = 0; i < n; ++i) {
    log::LogRecord again = records[i];
    again.offset = static_cast<int64_t>(n + i);
    records.push_back(std::move(again));
  }
  std::string twice = Run("twice", records, 333);
  EXPECT_EQ(last_stats_.duplicates, static_cast<int64_t>(n));
  EXPECT_EQ(last_stats_.applied, static_cast<int64_t>(n));
  // Identical but for the offset it has consumed up to.
  EXPECT_EQ(twice.substr(twice.find('\n')), clean.substr(clean.find('\n')));
}

TEST_F(PartitionTaskTest, BadRecordsBecomeDeadLettersAndTheRestIsApplied) {
  auto good = History(10, 3, 13);
  std::vector<log::LogRecord> mixed;
  auto add = [&](log::LogRecord r) {
    r.offset = static_cast<int64_t>(mixed.size());
    mixed.push_back(std::move(r));
  };
  v1::Envelope invalid;
  ASSERT_TRUE(invalid.ParseFromString(good[1].value));
  invalid.clear_event_id();
  for (size_t i = 0; i < good.size(); ++i) {
    add(good[i]);
    if (i == 3) add(log::LogRecord{0, 0, 0, "C0000001", "\xff\xff garbage"});
    if (i == 5) {
      add(log::LogRecord{0, 0, 0, invalid.customer_id(),
                         invalid.SerializeAsString()});
    }
  }
  auto store = *store::PartitionStore::Open(resources_, tmp_.File("dlq"), 0);
  PartitionTask task(store.get(), &rules_);
  ASSERT_TRUE(task.ApplyBatch(mixed).ok());
  ASSERT_TRUE(task.Flush().ok());
  EXPECT_EQ(task.stats().applied, static_cast<int64_t>(good.size()));
  EXPECT_EQ(task.stats().dead_letters, 2);
  std::vector<v1::DeadLetter> dead;
  auto outbox = store->ReadOutbox(0, 1 << 20);
  ASSERT_TRUE(outbox.ok());
  for (const auto& [seq, bytes] : *outbox) {
    v1::OutboxRecord rec;
    ASSERT_TRUE(rec.ParseFromString(bytes)) << seq;
    if (rec.has_dead_letter()) dead.push_back(rec.dead_letter());
  }
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].offset(), 4);
  EXPECT_EQ(dead[0].reason(), "undecodable: not a valid crm.v1.Envelope");
  EXPECT_EQ(dead[0].value(), "\xff\xff garbage");
  EXPECT_EQ(dead[1].offset(), 7);
  EXPECT_EQ(dead[1].reason().rfind("invalid: event_id", 0), 0u)
      << dead[1].reason();
  EXPECT_EQ(store->next_offset(), static_cast<int64_t>(mixed.size()));
}

}  // namespace
}  // namespace crm::task

namespace crm::task {
namespace {

// Two tasks built from copies of one TaskOptions share one budget: their
// cached states together stay within it after commits, and results do not
// change.
TEST_F(PartitionTaskTest, SharedBudgetBoundsAllTasksTogether) {
  const auto records = History(60, 6, 17);
  const std::string unbounded = Run("unbounded", records, 100);
  TaskOptions options;
  options.budget->max_cached = 10;
  options.budget->max_dirty = 8;
  auto store_a = *store::PartitionStore::Open(resources_, tmp_.File("a"), 0);
  auto store_b = *store::PartitionStore::Open(resources_, tmp_.File("b"), 0);
  PartitionTask a(store_a.get(), &rules_, options);
  PartitionTask b(store_b.get(), &rules_, options);
  auto all = absl::MakeConstSpan(records);
  for (size_t i = 0; i < records.size(); i += 100) {
    auto part = all.subspan(i, std::min<size_t>(100, records.size() - i));
    ASSERT_TRUE(a.ApplyBatch(part).ok());
    ASSERT_TRUE(b.ApplyBatch(part).ok());
    // Each batch dirties more than 8 customers, so each batch commits and
    // the cache is cut back to the shared limit.
    EXPECT_LE(options.budget->cached.load(), 10 + 100);
    EXPECT_EQ(options.budget->dirty.load(), 0);
  }
  ASSERT_TRUE(a.Flush().ok());
  ASSERT_TRUE(b.Flush().ok());
  EXPECT_LE(options.budget->cached.load(), 10);
  EXPECT_GT(a.stats().state_loads, 0);
  EXPECT_EQ(Dump(*store_a), unbounded);
  EXPECT_EQ(Dump(*store_b), unbounded);
}

// Cached states live on arenas, which keep what replaced fields and pruned
// entries left behind; each commit copies a state that outgrew its first
// block into a fresh one, so after a commit a cached state holds about
// four times its stored bytes (at most one growth block more), however
// long its history. The copies change nothing stored.
TEST_F(PartitionTaskTest, CachedStatesStayCompactAcrossCommits) {
  const auto records = History(4, 120, 21);
  ASSERT_GT(records.size(), 400u);
  const std::string once = Run("once", records, 1000);
  TaskOptions options;
  options.commit_every_records = 5;
  auto store = *store::PartitionStore::Open(resources_, tmp_.File("often"), 0);
  PartitionTask task(store.get(), &rules_, options);
  uint64_t largest = 0;
  for (size_t i = 0; i < records.size(); i += 5) {
    auto part = absl::MakeConstSpan(records).subspan(
        i, std::min<size_t>(5, records.size() - i));
    ASSERT_TRUE(task.ApplyBatch(part).ok());
    ASSERT_TRUE(task.Flush().ok());
    uint64_t stored = 0;
    ASSERT_TRUE(
        store
            ->ForEachCustomer([&](absl::string_view, absl::string_view v) {
              stored += v.size();
              return absl::OkStatus();
            })
            .ok());
    const uint64_t held = task.CachedStateBytes();
    EXPECT_LE(held, 4 * stored + task.cached_states() * (8 << 10))
        << "after offset " << task.next_offset();
    largest = std::max(largest, stored);
  }
  EXPECT_EQ(task.cached_states(), 4u);
  EXPECT_GT(largest, 4000u);  // long histories: the bound is not trivial
  EXPECT_EQ(Dump(*store), once);
}

// A batch that needs states the cache does not hold first drops clean
// states it does not use, so the cache stays within its bound between
// commits too, not only after them.
TEST_F(PartitionTaskTest, LoadingABatchKeepsTheCacheWithinItsBound) {
  const auto records = History(40, 12, 9);
  ASSERT_GT(records.size(), 400u);
  const std::string unbounded = Run("unbounded", records, 5);
  TaskOptions options;
  options.commit_every_records = 10;  // a commit every other batch
  options.budget->max_cached = 10;
  options.budget->max_dirty = 1 << 30;
  auto store = *store::PartitionStore::Open(resources_, tmp_.File("small"), 0);
  PartitionTask task(store.get(), &rules_, options);
  size_t uncommitted_batches = 0;
  for (size_t i = 0; i < records.size(); i += 5) {
    auto part = absl::MakeConstSpan(records).subspan(
        i, std::min<size_t>(5, records.size() - i));
    ASSERT_TRUE(task.ApplyBatch(part).ok());
    if (task.has_pending()) ++uncommitted_batches;
    EXPECT_LE(task.cached_states(), 10u)
        << "after offset " << task.next_offset();
  }
  ASSERT_TRUE(task.Flush().ok());
  EXPECT_GT(uncommitted_batches, 20u);
  EXPECT_GT(task.stats().state_loads, 40);
  EXPECT_EQ(Dump(*store), unbounded);
}

// A byte bound: the task commits when the states it holds reach it and
// then drops the least recently used ones to 3/4 of it. The budget counts
// exactly the arenas held (and nothing once the task is gone), and the
// store is the same as with no bound.
TEST_F(PartitionTaskTest, ByteBudgetCommitsAndEvictsWithoutChangingResults) {
  const auto records = History(60, 24, 8);
  ASSERT_GT(records.size(), 1500u);
  const std::string unbounded = Run("unbounded", records, 100);
  const int64_t unbounded_commits = last_stats_.commits;
  TaskOptions options;
  options.commit_every_records = 1 << 30;
  options.commit_max_dirty = 1 << 30;
  options.state_cache_entries = 1 << 30;
  options.budget->max_cached = 1 << 30;
  options.budget->max_dirty = 1 << 30;
  options.budget->max_bytes = 100 << 10;  // room for a dozen states or so
  {
    auto store =
        *store::PartitionStore::Open(resources_, tmp_.File("bounded"), 0);
    PartitionTask task(store.get(), &rules_, options);
    int64_t peak = 0;
    for (size_t i = 0; i < records.size(); i += 100) {
      auto part = absl::MakeConstSpan(records).subspan(
          i, std::min<size_t>(100, records.size() - i));
      ASSERT_TRUE(task.ApplyBatch(part).ok());
      peak = std::max(peak, options.budget->bytes.load());
      if (!task.has_pending()) {  // just committed: down to 3/4 or below
        EXPECT_EQ(options.budget->bytes.load(),
                  static_cast<int64_t>(task.CachedStateBytes()));
        EXPECT_LE(options.budget->bytes.load(),
                  options.budget->max_bytes / 4 * 3);
      }
    }
    ASSERT_TRUE(task.Flush().ok());
    EXPECT_EQ(options.budget->bytes.load(),
              static_cast<int64_t>(task.CachedStateBytes()));
    EXPECT_LT(task.cached_states(), 60u);
    EXPECT_GT(task.stats().commits, unbounded_commits + 3);
    EXPECT_GT(task.stats().state_loads, 0);  // dropped states read back
    EXPECT_GT(peak, options.budget->max_bytes / 2);
    EXPECT_EQ(Dump(*store), unbounded);
  }
  EXPECT_EQ(options.budget->bytes.load(), 0);
  EXPECT_EQ(options.budget->cached.load(), 0);
}

}  // namespace
}  // namespace crm::task

namespace crm::task {
namespace {

// HoldAt: a batch is applied only up to the first valid record at or
// after the boundary (dead letters before it included), whatever the batch
// sizes, and the rest applies after the release as if never held.
TEST_F(PartitionTaskTest, HoldStopsBeforeFirstValidRecordAtBoundary) {
  // The views and offset; the outbox order of dead letters among
  // transitions follows the batches (with or without a hold).
  auto views = [](const std::string& dump) {
    std::string out;
    for (absl::string_view line : absl::StrSplit(dump, '\n')) {
      if (!absl::StartsWith(line, "outbox ")) absl::StrAppend(&out, line, "\n");
    }
    return out;
  };
  std::vector<log::LogRecord> records = History(20, 6, 3);
  ASSERT_GT(records.size(), 200u);
  auto time_of = [](const log::LogRecord& r) {
    v1::Envelope e;
    EXPECT_TRUE(e.ParseFromString(r.value));
    return absl::FromUnixSeconds(e.occurred_at().seconds()) +
           absl::Nanoseconds(e.occurred_at().nanos());
  };
  const absl::Time boundary = time_of(records[150]) + absl::Nanoseconds(1);
  // Garbage before and after the cut: only the first is dead-lettered.
  log::LogRecord garbage = records[0];
  garbage.value = "\x0a\xff\xff not protobuf";
  records.insert(records.begin() + 20, garbage);
  size_t cut = 0;
  while (time_of(records[cut == 20 ? ++cut : cut]) < boundary) ++cut;
  records.insert(records.begin() + cut + 3, garbage);
  for (size_t i = 0; i < records.size(); ++i) records[i].offset = i;
  const std::vector<log::LogRecord> before(records.begin(),
                                           records.begin() + cut);
  const std::string expected_held = views(Run("prefix", before, 1000));
  const std::string expected_all = views(Run("all", records, 1000));

  for (size_t batch : {size_t{1}, size_t{7}, size_t{1000}}) {
    auto store = *store::PartitionStore::Open(
        resources_, tmp_.File(absl::StrCat("held", batch)), 0);
    PartitionTask task(store.get(), &rules_);
    task.HoldAt(boundary);
    size_t next = 0;
    while (next < records.size() && !task.held()) {
      const size_t n = std::min(batch, records.size() - next);
      ASSERT_TRUE(
          task.ApplyBatch(absl::MakeConstSpan(records).subspan(next, n)).ok());
      next = static_cast<size_t>(task.next_offset());
    }
    ASSERT_TRUE(task.held()) << batch;
    EXPECT_EQ(task.next_offset(), static_cast<int64_t>(cut)) << batch;
    EXPECT_EQ(task.held_event_time(), time_of(records[cut]));
    EXPECT_EQ(task.stats().dead_letters, 1);
    // Applying again while held applies nothing.
    ASSERT_TRUE(
        task.ApplyBatch(absl::MakeConstSpan(records).subspan(cut)).ok());
    EXPECT_EQ(task.next_offset(), static_cast<int64_t>(cut));
    ASSERT_TRUE(task.Flush().ok());
    EXPECT_EQ(views(Dump(*store)), expected_held) << batch;
    // The cached states may go; released, the rest applies as never held.
    ASSERT_TRUE(task.DropCachedStates().ok());
    task.HoldAt(absl::InfiniteFuture());
    ASSERT_TRUE(
        task.ApplyBatch(absl::MakeConstSpan(records).subspan(cut)).ok());
    EXPECT_FALSE(task.held());
    EXPECT_EQ(task.DropCachedStates().code(),
              absl::StatusCode::kFailedPrecondition);  // pending work
    ASSERT_TRUE(task.Flush().ok());
    EXPECT_EQ(views(Dump(*store)), expected_all) << batch;
  }
}

}  // namespace
}  // namespace crm::task
