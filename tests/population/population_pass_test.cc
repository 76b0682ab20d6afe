#include "engine/population/population_pass.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crm/v1/runtime.pb.h"
#include "engine/base/time_util.h"
#include "engine/store/serialize.h"
#include "engine/task/worker.h"
#include "gtest/gtest.h"
#include "projections/population/population.h"
#include "projections/projector.h"
#include "projections/rules/rules.h"
#include "tests/projections/builders.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"

namespace crm::population {
namespace {

using projections::testing::Day;
using projections::testing::Event;

// The population's event time: c01's last order.
const absl::Time kT = Day(2026, 1, 1);

absl::Time DaysBefore(int days) { return kT - absl::Hours(24 * days); }

// One customer of the hand-computed population: its manager and orders
// (days before kT, amount in cents).
struct Customer {
  std::string id;
  std::string manager;
  std::vector<std::pair<int, int64_t>> orders;
};

// Window revenue 10,000 over c01..c09 (c10 ordered outside the window,
// c11 never ordered). Hand-computed with the default rules (ABC 80/95,
// classes 25/5 %, coverage 1:1, 1:2, 1:4):
//   ABC: A c01 c02 | B c03 c04 c05 | C c06..c09 (c05: 9,400 above < 9,500).
//   Class (10 with orders): KEY c01 c02 c03, SPECIAL c10, rest ORDINARY.
//   RFM cuts: R days {5, 40, 60, 300}, F {1, 1, 2, 3}, M {100, 150, 400,
//   2000}.
const std::vector<Customer>& Population() {
  static const auto* kCustomers = new std::vector<Customer>{
      {"c01", "am1", {{20, 2000}, {10, 2000}, {0, 2000}}},
      {"c02", "am1", {{30, 1000}, {5, 1000}}},
      {"c03", "am1", {{40, 1000}}},
      {"c04", "am1", {{100, 200}, {60, 200}}},
      {"c05", "am1", {{200, 200}}},
      {"c06", "am2", {{15, 150}}},
      {"c07", "am2", {{300, 100}}},
      {"c08", "am2", {{80, 25}, {70, 25}, {50, 25}, {45, 25}}},
      {"c09", "am2", {{1, 50}}},
      {"c10", "am2", {{500, 9999}}},
      {"c11", "am1", {}},
  };
  return *kCustomers;
}

struct Expected {
  v1::AbcClass abc;
  v1::CustomerClass cls;
  uint32_t r, f, m;
  v1::RfmSegment segment;
};

const std::map<std::string, Expected>& ExpectedEntries() {
  using namespace v1;
  static const auto* kExpected = new std::map<std::string, Expected>{
      {"c01",
       {ABC_CLASS_A, CUSTOMER_CLASS_KEY, 5, 5, 5, RFM_SEGMENT_CHAMPIONS}},
      {"c02", {ABC_CLASS_A, CUSTOMER_CLASS_KEY, 4, 4, 5, RFM_SEGMENT_LOYAL}},
      {"c03",
       {ABC_CLASS_B, CUSTOMER_CLASS_KEY, 3, 3, 4, RFM_SEGMENT_NEED_ATTENTION}},
      {"c04",
       {ABC_CLASS_B, CUSTOMER_CLASS_ORDINARY, 2, 4, 4, RFM_SEGMENT_AT_RISK}},
      {"c05",
       {ABC_CLASS_B, CUSTOMER_CLASS_ORDINARY, 2, 3, 3, RFM_SEGMENT_AT_RISK}},
      {"c06",
       {ABC_CLASS_C, CUSTOMER_CLASS_ORDINARY, 4, 3, 3,
        RFM_SEGMENT_POTENTIAL_LOYALISTS}},
      {"c07",
       {ABC_CLASS_C, CUSTOMER_CLASS_ORDINARY, 1, 3, 2, RFM_SEGMENT_AT_RISK}},
      {"c08",
       {ABC_CLASS_C, CUSTOMER_CLASS_ORDINARY, 3, 5, 2, RFM_SEGMENT_LOYAL}},
      {"c09",
       {ABC_CLASS_C, CUSTOMER_CLASS_ORDINARY, 5, 3, 1,
        RFM_SEGMENT_POTENTIAL_LOYALISTS}},
      {"c10",
       {ABC_CLASS_UNSPECIFIED, CUSTOMER_CLASS_SPECIAL, 1, 1, 1,
        RFM_SEGMENT_HIBERNATING}},
      {"c11",
       {ABC_CLASS_UNSPECIFIED, CUSTOMER_CLASS_UNSPECIFIED, 0, 0, 0,
        RFM_SEGMENT_UNSPECIFIED}},
  };
  return *kExpected;
}

// The stored record of `c`: its events applied with the projector.
v1::StoredCustomer Build(const Customer& c, const v1::Rules& rules) {
  v1::StoredCustomer rec;
  rec.mutable_state()->set_customer_id(c.id);
  std::vector<v1::Envelope> events;
  events.push_back(Event(absl::StrCat(c.id, "-reg"), Day(2024, 1, 1), c.id)
                       .Registered(absl::StrCat("Customer ", c.id), c.manager)
                       .envelope());
  int n = 0;
  for (const auto& [days, amount] : c.orders) {
    const std::string id = absl::StrCat(c.id, "-o", ++n);
    events.push_back(
        Event(id, DaysBefore(days), c.id).Order(id, amount).envelope());
  }
  // Orders in time order, as a channel would send them.
  std::sort(events.begin() + 1, events.end(), [](const auto& a, const auto& b) {
    return FromProto(a.occurred_at()) < FromProto(b.occurred_at());
  });
  for (const auto& e : events) {
    auto t = projections::ApplyEvent(e, rules, rec.mutable_state());
    EXPECT_TRUE(t.ok()) << t.status();
  }
  return rec;
}

class PopulationPassTest : public ::testing::Test {
 protected:
  PopulationPassTest() : rules_(projections::DefaultRules()) {}

  // Commits the population into `partitions` stores under `dir` (customer
  // i in store i % partitions), store p at offset 10 * (p + 1).
  void Fill(const std::string& dir, int partitions) {
    std::filesystem::create_directories(dir);
    std::vector<store::CommitBatch> batches(partitions);
    const auto& all = Population();
    for (size_t i = 0; i < all.size(); ++i) {
      batches[i % partitions].customers.push_back(
          {all[i].id, store::SerializeDeterministic(Build(all[i], rules_))});
    }
    for (int p = 0; p < partitions; ++p) {
      auto s = store::PartitionStore::Open(resources_,
                                           task::PartitionStoreDir(dir, p), p);
      ASSERT_TRUE(s.ok()) << s.status();
      batches[p].next_offset = 10 * (p + 1);
      ASSERT_TRUE((*s)->Commit(batches[p]).ok());
    }
  }

  absl::StatusOr<PassResult> Pass(const std::string& dir,
                                  PassOptions options = {}) {
    auto stores = OpenPartitionStores(resources_, dir, /*read_only=*/false);
    if (!stores.ok()) return stores.status();
    std::vector<store::PartitionStore*> raw;
    for (auto& s : *stores) raw.push_back(s.get());
    return RunPopulationPass(raw, rules_, options);
  }

  // Every transition in the outboxes of the stores under `dir`.
  std::vector<v1::Transition> Outbox(const std::string& dir) {
    std::vector<v1::Transition> out;
    auto stores = OpenPartitionStores(resources_, dir, /*read_only=*/true);
    EXPECT_TRUE(stores.ok()) << stores.status();
    if (!stores.ok()) return out;
    for (auto& s : *stores) {
      auto records = s->ReadOutbox(0, 1 << 20);
      EXPECT_TRUE(records.ok());
      for (const auto& [seq, bytes] : *records) {
        v1::OutboxRecord o;
        EXPECT_TRUE(o.ParseFromString(bytes));
        out.push_back(o.transition());
      }
    }
    return out;
  }

  // customer id -> stored bytes, over every store under `dir`.
  std::map<std::string, std::string> Records(const std::string& dir) {
    std::map<std::string, std::string> out;
    auto stores = OpenPartitionStores(resources_, dir, /*read_only=*/true);
    EXPECT_TRUE(stores.ok()) << stores.status();
    if (!stores.ok()) return out;
    for (auto& s : *stores) {
      EXPECT_TRUE(
          s->ForEachCustomer([&](absl::string_view k, absl::string_view v) {
             out[std::string(k)] = std::string(v);
             return absl::OkStatus();
           }).ok());
    }
    return out;
  }

  v1::StoredCustomer Stored(const std::string& dir, const std::string& id) {
    v1::StoredCustomer rec;
    EXPECT_TRUE(rec.ParseFromString(Records(dir)[id]));
    return rec;
  }

  v1::Rules rules_;
  store::StoreResources resources_{store::StoreOptions{}};
  crm::testing::TempDir tmp_;
};

TEST_F(PopulationPassTest, ClassesAreTheHandComputedOnes) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 1);
  auto pass = Pass(dir);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(FromProto(pass->population.as_of()), kT);
  EXPECT_EQ(pass->population.rules_version(), rules_.version());
  ASSERT_EQ(pass->population.entries_size(), 11);
  for (const v1::PopulationEntry& e : pass->population.entries()) {
    const Expected& x = ExpectedEntries().at(e.customer_id());
    EXPECT_EQ(e.abc(), x.abc) << e.customer_id();
    EXPECT_EQ(e.customer_class(), x.cls) << e.customer_id();
    EXPECT_EQ(e.rfm_r(), x.r) << e.customer_id();
    EXPECT_EQ(e.rfm_f(), x.f) << e.customer_id();
    EXPECT_EQ(e.rfm_m(), x.m) << e.customer_id();
    EXPECT_EQ(e.rfm_segment(), x.segment) << e.customer_id();
  }
  const v1::RfmCutPoints& cuts = pass->population.rfm_cuts();
  EXPECT_EQ(std::vector<int64_t>(cuts.r().begin(), cuts.r().end()),
            (std::vector<int64_t>{5, 40, 60, 300}));
  EXPECT_EQ(std::vector<int64_t>(cuts.f().begin(), cuts.f().end()),
            (std::vector<int64_t>{1, 1, 2, 3}));
  EXPECT_EQ(std::vector<int64_t>(cuts.m().begin(), cuts.m().end()),
            (std::vector<int64_t>{100, 150, 400, 2000}));

  const PassRecord& r = pass->record;
  EXPECT_EQ(r.customers(), 11u);
  EXPECT_EQ(r.transacted(), 10u);
  EXPECT_EQ(r.abc_a(), 2u);
  EXPECT_EQ(r.abc_b(), 3u);
  EXPECT_EQ(r.abc_c(), 4u);
  EXPECT_EQ(r.abc_a_last().customer_id(), "c02");
  EXPECT_EQ(r.abc_b_last().customer_id(), "c05");
  EXPECT_EQ(r.abc_b_last().revenue_window_minor(), 200);
  EXPECT_EQ(r.key_last().customer_id(), "c03");
  EXPECT_EQ(r.special_first().customer_id(), "c10");
  EXPECT_EQ(r.summary().total_revenue_minor(), 10000);
  EXPECT_EQ(r.summary().entries_size(), 0);
  EXPECT_EQ(r.summary().key_customers(), 3u);
  EXPECT_EQ(r.summary().ordinary_customers(), 6u);
  EXPECT_EQ(r.summary().special_customers(), 1u);
  // am1: 3 key (1:1) + 2 ordinary (1:2) = 4; am2: 4 ordinary + 1 special
  // (1:4) = 3.
  ASSERT_EQ(r.summary().coverage_size(), 2);
  EXPECT_EQ(r.summary().coverage(0).account_manager(), "am1");
  EXPECT_EQ(r.summary().coverage(0).managers_required(), 4u);
  EXPECT_EQ(r.summary().coverage(1).account_manager(), "am2");
  EXPECT_EQ(r.summary().coverage(1).managers_required(), 3u);
  EXPECT_EQ(r.summary().managers_required(), 7u);
  std::map<v1::RfmSegment, uint64_t> segments;
  for (const auto& s : r.rfm_segments()) segments[s.segment()] = s.customers();
  EXPECT_EQ(segments, (std::map<v1::RfmSegment, uint64_t>{
                          {v1::RFM_SEGMENT_CHAMPIONS, 1},
                          {v1::RFM_SEGMENT_LOYAL, 2},
                          {v1::RFM_SEGMENT_POTENTIAL_LOYALISTS, 2},
                          {v1::RFM_SEGMENT_NEED_ATTENTION, 1},
                          {v1::RFM_SEGMENT_AT_RISK, 3},
                          {v1::RFM_SEGMENT_HIBERNATING, 1},
                      }));

  // The entries are in the stored views.
  const v1::StoredCustomer c03 = Stored(dir, "c03");
  EXPECT_EQ(c03.state().views().grade().abc(), v1::ABC_CLASS_B);
  EXPECT_EQ(c03.state().views().grade().computed_customer_class(),
            v1::CUSTOMER_CLASS_KEY);
  EXPECT_EQ(c03.state().views().grade().customer_class(),
            v1::CUSTOMER_CLASS_KEY);
  EXPECT_EQ(c03.state().views().lifecycle().rfm_segment(),
            v1::RFM_SEGMENT_NEED_ATTENTION);
  const v1::StoredCustomer c10 = Stored(dir, "c10");
  EXPECT_EQ(c10.state().views().grade().customer_class(),
            v1::CUSTOMER_CLASS_SPECIAL);
}

TEST_F(PopulationPassTest, KeepsOffsetsAndStateTimesAndFillsTheOutbox) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 3);
  const v1::StoredCustomer c05_before = Stored(dir, "c05");
  auto pass = Pass(dir);
  ASSERT_TRUE(pass.ok()) << pass.status();
  ASSERT_EQ(pass->record.partitions_size(), 3);
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(pass->record.partitions(p).partition(), p);
    EXPECT_EQ(pass->record.partitions(p).next_offset(), 10 * (p + 1));
    auto s = store::PartitionStore::OpenReadOnly(
        resources_, task::PartitionStoreDir(dir, p));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ((*s)->next_offset(), 10 * (p + 1)) << "partition " << p;
  }
  // Not advanced: c05's state stays at its last order, 200 days before
  // the pass's as_of, and its changes are stamped with that time.
  const v1::StoredCustomer c05 = Stored(dir, "c05");
  EXPECT_EQ(FromProto(c05.state().facts().as_of()), DaysBefore(200));
  EXPECT_EQ(c05.state().views().lifecycle().stage(),
            c05_before.state().views().lifecycle().stage());
  EXPECT_EQ(c05.applied_events_size(), c05_before.applied_events_size());

  // One abc change for each customer with window revenue (9), one class
  // change for each with an order (10); nothing else.
  std::map<std::string, int> by_dimension;
  for (const v1::Transition& t : Outbox(dir)) {
    ++by_dimension[t.dimension()];
    EXPECT_EQ(t.kind(), v1::TRANSITION_KIND_GRADE_CHANGED);
    EXPECT_EQ(t.event_id(), "");
    if (t.customer_id() == "c05" && t.dimension() == "abc") {
      EXPECT_EQ(t.from(), "ABC_CLASS_UNSPECIFIED");
      EXPECT_EQ(t.to(), "ABC_CLASS_B");
      EXPECT_EQ(FromProto(t.at()), DaysBefore(200));
      EXPECT_NE(t.why().find("population pass"), std::string::npos);
    }
  }
  EXPECT_EQ(by_dimension,
            (std::map<std::string, int>{{"abc", 9}, {"customer_class", 10}}));
  uint64_t transitions = 0;
  for (const auto& p : pass->record.partitions())
    transitions += p.transitions();
  EXPECT_EQ(transitions, 19u);
}

TEST_F(PopulationPassTest, SecondPassAtTheSameAsOfChangesNothing) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 3);
  auto first = Pass(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string dump = crm::testing::DumpStores(dir);
  const size_t outbox = Outbox(dir).size();
  auto second = Pass(dir);
  ASSERT_TRUE(second.ok()) << second.status();
  for (const auto& p : second->record.partitions()) {
    EXPECT_EQ(p.customers_changed(), 0u) << "partition " << p.partition();
    EXPECT_EQ(p.transitions(), 0u) << "partition " << p.partition();
  }
  EXPECT_EQ(crm::testing::DumpStores(dir), dump);
  EXPECT_EQ(Outbox(dir).size(), outbox);
  EXPECT_EQ(second->record.result_digest(), first->record.result_digest());
}

TEST_F(PopulationPassTest, SameResultWhateverThePartitioning) {
  const std::string one = tmp_.File("one"), three = tmp_.File("three");
  Fill(one, 1);
  Fill(three, 3);
  auto a = Pass(one);
  auto b = Pass(three);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(store::SerializeDeterministic(a->population),
            store::SerializeDeterministic(b->population));
  EXPECT_EQ(a->record.result_digest(), b->record.result_digest());
  EXPECT_EQ(Records(one), Records(three));
  auto sorted = [](std::vector<v1::Transition> v) {
    std::vector<std::string> out;
    for (const auto& t : v) out.push_back(store::SerializeDeterministic(t));
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(sorted(Outbox(one)), sorted(Outbox(three)));
}

TEST_F(PopulationPassTest, StoredCutPointsReproduceTheResult) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 3);
  auto pass = Pass(dir);
  ASSERT_TRUE(pass.ok()) << pass.status();
  auto path = WritePassRecord(tmp_.File("population"), pass->record);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, tmp_.File("population/2026-01-01T00:00:00Z.binpb"));
  auto latest = ReadPassRecord(tmp_.File("population/latest.binpb"));
  ASSERT_TRUE(latest.ok()) << latest.status();
  auto stored = ReadPassRecord(*path);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(store::SerializeDeterministic(*stored),
            store::SerializeDeterministic(pass->record));
  EXPECT_EQ(store::SerializeDeterministic(*latest),
            store::SerializeDeterministic(pass->record));

  // Each customer's facts at the record's as_of, classified with the
  // record alone, give its entry.
  const absl::Time as_of = FromProto(stored->summary().as_of());
  std::vector<v1::PopulationFacts> facts;
  for (const Customer& c : Population()) {
    v1::StoredCustomer rec = Build(c, rules_);
    projections::AdvanceTo(as_of, rules_, rec.mutable_state());
    facts.push_back(
        projections::ExtractPopulationFacts(rec.state(), rules_, as_of));
    const v1::PopulationEntry got = ReproduceEntry(facts.back(), *stored);
    const Expected& x = ExpectedEntries().at(c.id);
    EXPECT_EQ(got.abc(), x.abc) << c.id;
    EXPECT_EQ(got.customer_class(), x.cls) << c.id;
    EXPECT_EQ(got.rfm_r(), x.r) << c.id;
    EXPECT_EQ(got.rfm_f(), x.f) << c.id;
    EXPECT_EQ(got.rfm_m(), x.m) << c.id;
    EXPECT_EQ(got.rfm_segment(), x.segment) << c.id;
  }
  // Classifying the same facts again gives the recorded digest.
  auto again = projections::ClassifyPopulation(facts, rules_, as_of);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(PopulationDigest(*again), stored->result_digest());
}

TEST_F(PopulationPassTest, LaterAsOfClassifiesThereWithoutMovingStates) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 1);
  PassOptions options;
  options.as_of = kT + absl::Hours(24 * 100);
  auto pass = Pass(dir, options);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(FromProto(pass->record.summary().as_of()), options.as_of);
  // 100 days later c07's order (300 days before kT) left the window.
  int found = 0;
  for (const auto& e : pass->population.entries()) {
    if (e.customer_id() != "c07") continue;
    ++found;
    EXPECT_EQ(e.abc(), v1::ABC_CLASS_UNSPECIFIED);
  }
  EXPECT_EQ(found, 1);
  EXPECT_EQ(pass->record.summary().total_revenue_minor(), 10000 - 100);
  EXPECT_EQ(FromProto(Stored(dir, "c01").state().facts().as_of()), kT);
}

TEST_F(PopulationPassTest, EarlierAsOfIsRejected) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 1);
  const std::string before = crm::testing::DumpStores(dir);
  PassOptions options;
  options.as_of = kT - absl::Seconds(1);
  auto pass = Pass(dir, options);
  EXPECT_EQ(pass.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(pass.status().message().find("customer c01"), std::string::npos)
      << pass.status();
  EXPECT_EQ(crm::testing::DumpStores(dir), before);
}

TEST_F(PopulationPassTest, DryRunWritesNothing) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 3);
  const std::string before = crm::testing::DumpStores(dir);
  PassOptions options;
  options.dry_run = true;
  auto pass = Pass(dir, options);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->record.abc_a(), 2u);
  EXPECT_EQ(crm::testing::DumpStores(dir), before);
  EXPECT_TRUE(Outbox(dir).empty());
}

TEST_F(PopulationPassTest, OtherRulesVersionIsRefused) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 1);
  rules_.set_version("another-version");
  auto pass = Pass(dir);
  EXPECT_EQ(pass.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(pass.status().message().find("2026-12-default"), std::string::npos)
      << pass.status();
}

TEST_F(PopulationPassTest, LockedStoreNamesTheRunningProjector) {
  const std::string dir = tmp_.File("store");
  Fill(dir, 2);
  // A worker holds partition 1.
  auto held = store::PartitionStore::Open(resources_,
                                          task::PartitionStoreDir(dir, 1), 1);
  ASSERT_TRUE(held.ok());
  auto pass = Pass(dir);
  EXPECT_EQ(pass.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(pass.status().message().find("p-0001 is in use by a running "
                                         "projector (crm run): stop it"),
            std::string::npos)
      << pass.status();
  // Read-only opening works while it is held.
  EXPECT_TRUE(OpenPartitionStores(resources_, dir, /*read_only=*/true).ok());
}

TEST_F(PopulationPassTest, NoStoresIsNotFound) {
  auto pass = Pass(tmp_.File("nothing"));
  EXPECT_EQ(pass.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(pass.status().message().find("no partition stores in"),
            std::string::npos);
}

}  // namespace
}  // namespace crm::population

namespace crm::population {
namespace {

// The lifetime-value model fitted over the stores lands in each customer's
// stored lifecycle view, as of the pass's as_of, and does not depend on the
// partitioning. Four repeat customers with very different spends are too
// few for Gamma-Gamma (q < 1: unbounded expected spend), so the expected
// purchases and P(alive) are written and the lifetime value is not (the
// value itself is tested on CDNOW in tests/projections/population).
TEST_F(PopulationPassTest, LifetimeValueIsWrittenIntoTheLifecycleView) {
  rules_.mutable_ltv()->set_min_customers(10);  // the 10 with orders
  const std::string one = tmp_.File("one"), three = tmp_.File("three");
  Fill(one, 1);
  Fill(three, 3);
  auto pass = Pass(one);
  ASSERT_TRUE(pass.ok()) << pass.status();
  const v1::LtvModel& m = pass->population.ltv_model();
  ASSERT_TRUE(m.fitted()) << m.not_fitted_why();
  EXPECT_EQ(m.fit_customers(), 10u);
  EXPECT_EQ(m.fit_repeat_customers(), 4u);  // c01, c02, c04, c08
  EXPECT_FALSE(m.spend_fitted());
  EXPECT_EQ(m.spend_not_fitted_why().rfind("Gamma-Gamma q = ", 0), 0u)
      << m.spend_not_fitted_why();
  int computed = 0;
  for (const v1::PopulationEntry& e : pass->population.entries()) {
    const v1::LifecycleView& lc =
        Stored(one, e.customer_id()).state().views().lifecycle();
    EXPECT_EQ(e.ltv_computed(), e.customer_id() != "c11") << e.customer_id();
    if (!e.ltv_computed()) {
      EXPECT_FALSE(lc.has_ltv_as_of());
      continue;
    }
    ++computed;
    EXPECT_GT(e.probability_alive(), 0);
    EXPECT_LE(e.probability_alive(), 1);
    EXPECT_EQ(lc.expected_purchases(), e.expected_purchases());
    EXPECT_EQ(lc.probability_alive(), e.probability_alive());
    EXPECT_FALSE(e.lifetime_value_computed());
    EXPECT_FALSE(lc.has_lifetime_value());
    EXPECT_EQ(FromProto(lc.ltv_as_of()), kT);
    EXPECT_EQ(lc.ltv_horizon_days(), 364);
  }
  EXPECT_EQ(computed, 10);
  // c10 ordered once, 500 days ago; c01 three times, the last at as_of:
  // c01 is expected to buy more.
  auto entry = [&](const std::string& id) {
    for (const auto& e : pass->population.entries()) {
      if (e.customer_id() == id) return e;
    }
    return v1::PopulationEntry();
  };
  EXPECT_GT(entry("c01").expected_purchases(),
            entry("c10").expected_purchases());
  EXPECT_EQ(entry("c10").probability_alive(), 1.0);  // x = 0: alive

  auto pass3 = Pass(three);
  ASSERT_TRUE(pass3.ok()) << pass3.status();
  EXPECT_EQ(store::SerializeDeterministic(pass3->population),
            store::SerializeDeterministic(pass->population));
  EXPECT_EQ(Records(three), Records(one));
}

// The pass record keeps the fitted model, so each customer's lifetime-value
// fields are reproduced from its facts and the record read back alone.
TEST_F(PopulationPassTest, StoredModelReproducesTheLifetimeValues) {
  rules_.mutable_ltv()->set_min_customers(10);
  const std::string dir = tmp_.File("store");
  Fill(dir, 1);
  auto pass = Pass(dir);
  ASSERT_TRUE(pass.ok()) << pass.status();
  ASSERT_TRUE(pass->record.summary().ltv_model().fitted());
  auto path = WritePassRecord(tmp_.File("population"), pass->record);
  ASSERT_TRUE(path.ok()) << path.status();
  auto stored = ReadPassRecord(*path);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(store::SerializeDeterministic(stored->summary().ltv_model()),
            store::SerializeDeterministic(pass->population.ltv_model()));
  int computed = 0;
  for (const v1::PopulationEntry& e : pass->population.entries()) {
    v1::CustomerState state = Stored(dir, e.customer_id()).state();
    projections::AdvanceTo(kT, rules_, &state);
    const v1::PopulationEntry got = ReproduceEntry(
        projections::ExtractPopulationFacts(state, rules_, kT), *stored);
    EXPECT_EQ(got.ltv_computed(), e.ltv_computed()) << e.customer_id();
    if (e.ltv_computed()) ++computed;
    EXPECT_EQ(got.expected_purchases(), e.expected_purchases())
        << e.customer_id();
    EXPECT_EQ(got.probability_alive(), e.probability_alive())
        << e.customer_id();
    EXPECT_EQ(got.lifetime_value_computed(), e.lifetime_value_computed());
    EXPECT_EQ(got.ltv_horizon_days(), e.ltv_horizon_days());
    EXPECT_EQ(got.ltv_as_of().seconds(), e.ltv_as_of().seconds());
  }
  EXPECT_EQ(computed, 10);
}

}  // namespace
}  // namespace crm::population
