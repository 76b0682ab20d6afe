// Golden digest of the projector over a generated history: every final
// state (deterministic serialization) and every transition, as produced by
// ApplyEvent, AdvanceTo and a population pass. The expected values were
// recorded with the projector as of the commit that added this test (the
// variant rules case with that projector built from the same sources).
// Optimizations of the projector must keep these digests identical; a
// deliberate change of results updates them in the same commit, with the
// reason.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/base/time_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "projections/population/population.h"
#include "projections/projector.h"
#include "projections/rules/rules.h"
#include "tools/generator/generator.h"

namespace crm::projections {
namespace {

// FNV-1a, 64-bit: stable across platforms and runs.
class Digest {
 public:
  void Add(const std::string& bytes) {
    for (unsigned char c : bytes) {
      h_ ^= c;
      h_ *= 1099511628211ull;
    }
    h_ ^= 0xff;  // record separator
    h_ *= 1099511628211ull;
  }
  void Add(const google::protobuf::Message& m) {
    std::string out;
    {
      google::protobuf::io::StringOutputStream os(&out);
      google::protobuf::io::CodedOutputStream cos(&os);
      cos.SetSerializationDeterministic(true);
      m.SerializeToCodedStream(&cos);
    }
    Add(out);
  }
  std::string Hex() const { return absl::StrFormat("%016x", h_); }

 private:
  uint64_t h_ = 14695981039346656037ull;
};

struct GoldenRun {
  int64_t events = 0;
  int64_t transitions = 0;
  std::string input;  // digest of the generated events
  std::string transitions_digest;
  std::string states;      // digest of the final states, by customer id
  std::string mid_states;  // digest of the states after the population pass
};

// Applies the history customer by customer in log order; at the first event
// of month 13 (and at the end + 400 days) every state is advanced there,
// and at month 13 a population pass is applied.
GoldenRun RunHistory(int64_t customers, int months, uint64_t seed,
                     const v1::Rules& rules = DefaultRules()) {
  generator::GeneratorOptions options;
  options.customers = customers;
  options.months = months;
  options.seed = seed;
  auto gen = *generator::Generator::Create(options);
  const absl::Time pass_at = options.start + absl::Hours(24 * 366);

  GoldenRun run;
  Digest input, transitions;
  std::map<std::string, v1::CustomerState> states;
  auto record = [&](const std::vector<v1::Transition>& ts) {
    for (const v1::Transition& t : ts) {
      transitions.Add(t);
      ++run.transitions;
    }
  };
  auto advance_all = [&](absl::Time t) {
    for (auto& [id, s] : states) record(AdvanceTo(t, rules, &s));
  };
  bool passed = false;
  v1::Envelope e;
  while (gen->Next(&e)) {
    input.Add(e);
    const absl::Time at = FromProto(e.occurred_at());
    if (!passed && at >= pass_at) {
      passed = true;
      advance_all(at);
      std::vector<v1::PopulationFacts> facts;
      for (const auto& [id, s] : states) {
        facts.push_back(ExtractPopulationFacts(s, rules, at));
      }
      auto result = ClassifyPopulation(facts, rules, at);
      EXPECT_TRUE(result.ok()) << result.status();
      for (const v1::PopulationEntry& entry : result->entries()) {
        auto ts = ApplyPopulationEntry(entry, at, rules,
                                       &states[entry.customer_id()]);
        EXPECT_TRUE(ts.ok()) << ts.status();
        record(*ts);
      }
      Digest mid;
      for (const auto& [id, s] : states) mid.Add(s);
      run.mid_states = mid.Hex();
    }
    v1::CustomerState& s = states[e.customer_id()];
    auto ts = ApplyEvent(e, rules, &s);
    EXPECT_TRUE(ts.ok()) << ts.status();
    if (ts.ok()) record(*ts);
    ++run.events;
  }
  advance_all(gen->end() + absl::Hours(24 * 400));
  Digest final_states;
  for (const auto& [id, s] : states) final_states.Add(s);
  run.input = input.Hex();
  run.transitions_digest = transitions.Hex();
  run.states = final_states.Hex();
  return run;
}

TEST(ProjectorGoldenTest, GeneratedHistoryDigestsAreUnchanged) {
  const GoldenRun run = RunHistory(300, 24, 5);
  // The input first: if the generator's output changed, the other digests
  // say nothing about the projector.
  ASSERT_EQ(run.input, "278e3866c8c3b246")
      << "generated history changed (" << run.events << " events)";
  EXPECT_EQ(run.events, 11000);
  EXPECT_EQ(run.transitions, 4308);
  EXPECT_EQ(run.transitions_digest, "d507504f75277fee");
  EXPECT_EQ(run.mid_states, "493a6021b2d395cf");
  EXPECT_EQ(run.states, "90144288972737bb");
}

// A longer, larger history: more windows rolling over, more regrades and
// population-driven follow-up cadences.
TEST(ProjectorGoldenTest, LargerHistoryDigestsAreUnchanged) {
  const GoldenRun run = RunHistory(2000, 36, 11);
  ASSERT_EQ(run.input, "91c657ad315971bb")
      << "generated history changed (" << run.events << " events)";
  EXPECT_EQ(run.events, 101965);
  EXPECT_EQ(run.transitions, 32515);
  EXPECT_EQ(run.transitions_digest, "9ea24969a7bcb5d7");
  EXPECT_EQ(run.mid_states, "e406f43f4c6f930c");
  EXPECT_EQ(run.states, "156d4bc537aadfc2");
}

// Rules off the defaults: a share window unlike the value window, shorter
// windows, no hysteresis, a 29 February holiday.
v1::Rules VariantRules() {
  v1::Rules rules = DefaultRules();
  rules.set_version("golden-variant");
  rules.mutable_value_tier()->set_window_days(120);
  rules.mutable_value_tier()->set_medium_min_minor(500000);
  rules.mutable_wallet()->set_share_window_days(200);
  rules.mutable_rfm()->set_window_days(300);
  rules.mutable_stars()->set_hysteresis(0);
  rules.mutable_lifecycle()->set_at_risk_after_days(45);
  rules.mutable_lifecycle()->set_churned_after_days(100);
  rules.mutable_follow_up()->set_birthday_lead_days(3);
  auto* leap = rules.mutable_follow_up()->add_holidays();
  leap->set_month(2);
  leap->set_day(29);
  return rules;
}

TEST(ProjectorGoldenTest, VariantRulesDigestsAreUnchanged) {
  const v1::Rules rules = VariantRules();
  ASSERT_TRUE(ValidateRules(rules).ok()) << ValidateRules(rules);
  const GoldenRun run = RunHistory(500, 30, 7, rules);
  ASSERT_EQ(run.input, "28d33a2e0a9982f8")
      << "generated history changed (" << run.events << " events)";
  EXPECT_EQ(run.events, 22052);
  EXPECT_EQ(run.transitions, 9305);
  EXPECT_EQ(run.transitions_digest, "77c67889cda59efe");
  EXPECT_EQ(run.mid_states, "4a742dd20dbc0a99");
  EXPECT_EQ(run.states, "260dd88cbb9a8a0e");
}

}  // namespace
}  // namespace crm::projections
