#include "projections/population/population.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/base/time_util.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/projections/builders.h"

namespace crm::projections {
namespace {

using testing::Day;

v1::PopulationFacts Facts(const std::string& id, int64_t revenue,
                          const std::string& manager = "am1",
                          int64_t recency = 10, int64_t frequency = 1,
                          int64_t monetary = -1) {
  v1::PopulationFacts f;
  f.set_customer_id(id);
  f.set_account_manager(manager);
  f.set_revenue_window_minor(revenue);
  f.set_has_orders(true);
  f.set_recency_days(recency);
  f.set_frequency(frequency);
  f.set_monetary_minor(monetary < 0 ? revenue : monetary);
  return f;
}

const v1::PopulationEntry& EntryOf(const v1::PopulationResult& r,
                                   const std::string& id) {
  for (const auto& e : r.entries()) {
    if (e.customer_id() == id) return e;
  }
  static const v1::PopulationEntry kNone;
  ADD_FAILURE() << "no entry " << id;
  return kNone;
}

TEST(RfmSegmentTest, GridCoversAll25CellsExactlyOnce) {
  std::map<v1::RfmSegment, int> cells;
  for (uint32_t r = 1; r <= 5; ++r) {
    for (uint32_t f = 1; f <= 5; ++f) {
      const v1::RfmSegment s = RfmSegmentFor(r, f);
      ASSERT_NE(s, v1::RFM_SEGMENT_UNSPECIFIED) << r << f;
      ++cells[s];
    }
  }
  // Every one of the 10 segments is used; the cell counts of the grid.
  const std::map<v1::RfmSegment, int> expected = {
      {v1::RFM_SEGMENT_CHAMPIONS, 2},
      {v1::RFM_SEGMENT_LOYAL, 4},
      {v1::RFM_SEGMENT_POTENTIAL_LOYALISTS, 4},
      {v1::RFM_SEGMENT_NEW, 1},
      {v1::RFM_SEGMENT_PROMISING, 1},
      {v1::RFM_SEGMENT_NEED_ATTENTION, 1},
      {v1::RFM_SEGMENT_ABOUT_TO_SLEEP, 2},
      {v1::RFM_SEGMENT_AT_RISK, 4},
      {v1::RFM_SEGMENT_CANT_LOSE, 2},
      {v1::RFM_SEGMENT_HIBERNATING, 4},
  };
  EXPECT_EQ(cells, expected);
  EXPECT_EQ(RfmSegmentFor(5, 5), v1::RFM_SEGMENT_CHAMPIONS);
  EXPECT_EQ(RfmSegmentFor(5, 1), v1::RFM_SEGMENT_NEW);
  EXPECT_EQ(RfmSegmentFor(4, 1), v1::RFM_SEGMENT_PROMISING);
  EXPECT_EQ(RfmSegmentFor(3, 3), v1::RFM_SEGMENT_NEED_ATTENTION);
  EXPECT_EQ(RfmSegmentFor(3, 4), v1::RFM_SEGMENT_LOYAL);
  EXPECT_EQ(RfmSegmentFor(1, 5), v1::RFM_SEGMENT_CANT_LOSE);
  EXPECT_EQ(RfmSegmentFor(2, 3), v1::RFM_SEGMENT_AT_RISK);
  EXPECT_EQ(RfmSegmentFor(0, 3), v1::RFM_SEGMENT_UNSPECIFIED);
  EXPECT_EQ(RfmSegmentFor(3, 6), v1::RFM_SEGMENT_UNSPECIFIED);
}

TEST(QuintileTest, CutsAndScores) {
  const std::vector<int64_t> cuts =
      QuintileCuts({9, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(cuts, (std::vector<int64_t>{2, 4, 6, 8}));
  EXPECT_EQ(AscendingScore(0, cuts), 1u);
  EXPECT_EQ(AscendingScore(1, cuts), 1u);
  EXPECT_EQ(AscendingScore(2, cuts), 2u);
  EXPECT_EQ(AscendingScore(7, cuts), 4u);
  EXPECT_EQ(AscendingScore(8, cuts), 5u);
  EXPECT_EQ(RecencyScore(0, cuts), 5u);  // most recent
  EXPECT_EQ(RecencyScore(2, cuts), 4u);
  EXPECT_EQ(RecencyScore(9, cuts), 1u);
  EXPECT_TRUE(QuintileCuts({}).empty());
  EXPECT_EQ(QuintileCuts({7}), (std::vector<int64_t>{7, 7, 7, 7}));
}

// Ten customers, revenue 10,000 in total, computed by hand:
//   rank id   revenue  above  above%  ABC
//   1    c01  5000     0      0       A
//   2    c02  2000     5000   50      A
//   3    c03  1000     7000   70      A
//   4    c04  800      8000   80      B   (80 is not < 80)
//   5    c05  500      8800   88      B
//   6    c06  300      9300   93      B
//   7    c07  200      9600   96      C
//   8    c08  100      9800   98      C
//   9    c09  100      9900   99      C   (tie with c08: id order)
//   10   c10  0        -      -       UNSPECIFIED
TEST(PopulationTest, AbcCutOffsByHand) {
  std::vector<v1::PopulationFacts> facts = {
      Facts("c05", 500),  Facts("c01", 5000), Facts("c09", 100),
      Facts("c03", 1000), Facts("c07", 200),  Facts("c02", 2000),
      Facts("c10", 0),    Facts("c04", 800),  Facts("c08", 100),
      Facts("c06", 300)};
  auto r = ClassifyPopulation(facts, DefaultRules(), Day(2026, 6, 1));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->total_revenue_minor(), 10000);
  const std::map<std::string, v1::AbcClass> expected = {
      {"c01", v1::ABC_CLASS_A}, {"c02", v1::ABC_CLASS_A},
      {"c03", v1::ABC_CLASS_A}, {"c04", v1::ABC_CLASS_B},
      {"c05", v1::ABC_CLASS_B}, {"c06", v1::ABC_CLASS_B},
      {"c07", v1::ABC_CLASS_C}, {"c08", v1::ABC_CLASS_C},
      {"c09", v1::ABC_CLASS_C}, {"c10", v1::ABC_CLASS_UNSPECIFIED}};
  ASSERT_EQ(r->entries_size(), 10);
  for (const auto& e : r->entries()) {
    EXPECT_EQ(e.abc(), expected.at(e.customer_id())) << e.customer_id();
  }
  EXPECT_EQ(r->entries(0).customer_id(), "c01");  // sorted by id
  EXPECT_EQ(EntryOf(*r, "c08").rank(), 8);
  EXPECT_EQ(EntryOf(*r, "c09").rank(), 9);
  EXPECT_DOUBLE_EQ(EntryOf(*r, "c04").cumulative_share_before(), 0.8);
  EXPECT_DOUBLE_EQ(EntryOf(*r, "c02").revenue_share(), 0.2);
  EXPECT_DOUBLE_EQ(EntryOf(*r, "c01").contribution_degree(), 100);
  EXPECT_DOUBLE_EQ(EntryOf(*r, "c04").contribution_degree(), 20);
  EXPECT_DOUBLE_EQ(EntryOf(*r, "c10").contribution_degree(), 0);
  EXPECT_EQ(r->rules_version(), "2026-12-default");
  EXPECT_EQ(FromProto(r->as_of()), Day(2026, 6, 1));
}

TEST(PopulationTest, AbcBoundaryIsStrict) {
  // Two customers, 80/20: the second starts exactly at 80% -> B.
  auto r = ClassifyPopulation({Facts("a", 80), Facts("b", 20)}, DefaultRules(),
                              Day(2026, 6, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(EntryOf(*r, "a").abc(), v1::ABC_CLASS_A);
  EXPECT_EQ(EntryOf(*r, "b").abc(), v1::ABC_CLASS_B);
  // 79/21: the second starts at 79% -> A.
  r = ClassifyPopulation({Facts("a", 79), Facts("b", 21)}, DefaultRules(),
                         Day(2026, 6, 1));
  EXPECT_EQ(EntryOf(*r, "b").abc(), v1::ABC_CLASS_A);
}

TEST(PopulationTest, ClassSplitAndCoverage) {
  // 20 transacted customers, one prospect: key round(20 * 25%) = 5, special
  // round(20 * 5%) = 1, ordinary 14.
  std::vector<v1::PopulationFacts> facts;
  for (int i = 1; i <= 20; ++i) {
    facts.push_back(Facts(absl::StrCat("c", i < 10 ? "0" : "", i), 1000 * i,
                          i % 2 == 0 ? "even" : "odd"));
  }
  v1::PopulationFacts prospect;
  prospect.set_customer_id("p1");
  facts.push_back(prospect);
  auto r = ClassifyPopulation(facts, DefaultRules(), Day(2026, 6, 1));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->key_customers(), 5u);
  EXPECT_EQ(r->ordinary_customers(), 14u);
  EXPECT_EQ(r->special_customers(), 1u);
  for (int i : {20, 19, 18, 17, 16}) {
    EXPECT_EQ(EntryOf(*r, absl::StrCat("c", i)).customer_class(),
              v1::CUSTOMER_CLASS_KEY);
  }
  EXPECT_EQ(EntryOf(*r, "c15").customer_class(), v1::CUSTOMER_CLASS_ORDINARY);
  EXPECT_EQ(EntryOf(*r, "c02").customer_class(), v1::CUSTOMER_CLASS_ORDINARY);
  EXPECT_EQ(EntryOf(*r, "c01").customer_class(), v1::CUSTOMER_CLASS_SPECIAL);
  EXPECT_EQ(EntryOf(*r, "p1").customer_class(), v1::CUSTOMER_CLASS_UNSPECIFIED);
  // even: key 20,18,16 (3), ordinary 2..14 (7) -> 3 + ceil(7/2) = 7
  // odd: key 19,17 (2), ordinary 3..15 (7), special 1 -> 2 + 4 + 1 = 7
  // unassigned prospect: not counted.
  ASSERT_EQ(r->coverage_size(), 2);
  EXPECT_EQ(r->coverage(0).account_manager(), "even");
  EXPECT_EQ(r->coverage(0).key_customers(), 3u);
  EXPECT_EQ(r->coverage(0).ordinary_customers(), 7u);
  EXPECT_EQ(r->coverage(0).managers_required(), 7u);
  EXPECT_EQ(r->coverage(1).account_manager(), "odd");
  EXPECT_EQ(r->coverage(1).special_customers(), 1u);
  EXPECT_EQ(r->coverage(1).managers_required(), 7u);
  EXPECT_EQ(r->managers_required(), 14u);
}

TEST(PopulationTest, RfmScoresReproducibleFromCuts) {
  std::vector<v1::PopulationFacts> facts;
  for (int i = 0; i < 10; ++i) {
    // Recency i days, frequency 10 - i, monetary 100 * i.
    facts.push_back(Facts(absl::StrCat("c", i), 1, "am", i, 10 - i, 100 * i));
  }
  auto r = ClassifyPopulation(facts, DefaultRules(), Day(2026, 6, 1));
  ASSERT_TRUE(r.ok());
  const auto& cuts = r->rfm_cuts();
  EXPECT_EQ(std::vector<int64_t>(cuts.r().begin(), cuts.r().end()),
            (std::vector<int64_t>{2, 4, 6, 8}));
  EXPECT_EQ(std::vector<int64_t>(cuts.f().begin(), cuts.f().end()),
            (std::vector<int64_t>{3, 5, 7, 9}));
  EXPECT_EQ(std::vector<int64_t>(cuts.m().begin(), cuts.m().end()),
            (std::vector<int64_t>{200, 400, 600, 800}));
  const auto& c0 = EntryOf(*r, "c0");  // most recent, most frequent
  EXPECT_EQ(c0.rfm_r(), 5u);
  EXPECT_EQ(c0.rfm_f(), 5u);
  EXPECT_EQ(c0.rfm_m(), 1u);
  EXPECT_EQ(c0.rfm_segment(), v1::RFM_SEGMENT_CHAMPIONS);
  const auto& c9 = EntryOf(*r, "c9");
  EXPECT_EQ(c9.rfm_r(), 1u);
  EXPECT_EQ(c9.rfm_f(), 1u);
  EXPECT_EQ(c9.rfm_m(), 5u);
  EXPECT_EQ(c9.rfm_segment(), v1::RFM_SEGMENT_HIBERNATING);
  // Every score is the pure function of the stored cuts.
  for (const auto& f : facts) {
    const auto& e = EntryOf(*r, f.customer_id());
    EXPECT_EQ(e.rfm_r(), RecencyScore(f.recency_days(), cuts.r()));
    EXPECT_EQ(e.rfm_f(), AscendingScore(f.frequency(), cuts.f()));
    EXPECT_EQ(e.rfm_m(), AscendingScore(f.monetary_minor(), cuts.m()));
  }
}

TEST(PopulationTest, InputOrderDoesNotMatter) {
  std::vector<v1::PopulationFacts> facts;
  for (int i = 0; i < 37; ++i) {
    facts.push_back(Facts(absl::StrCat("c", i), (i * 7919) % 101,
                          absl::StrCat("am", i % 3), i % 11, i % 5, i));
  }
  auto a = ClassifyPopulation(facts, DefaultRules(), Day(2026, 6, 1));
  std::reverse(facts.begin(), facts.end());
  auto b = ClassifyPopulation(facts, DefaultRules(), Day(2026, 6, 1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
}

TEST(PopulationTest, RejectsDuplicateAndEmptyIds) {
  auto r = ClassifyPopulation({Facts("a", 1), Facts("a", 2)}, DefaultRules(),
                              Day(2026, 6, 1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "population facts: duplicate customer_id \"a\"");
  r = ClassifyPopulation({Facts("", 1)}, DefaultRules(), Day(2026, 6, 1));
  EXPECT_EQ(r.status().message(), "population facts: customer_id must be set");
}

}  // namespace
}  // namespace crm::projections
