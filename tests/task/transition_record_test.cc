#include "engine/task/transition_record.h"

#include <map>
#include <string>
#include <vector>

#include "crm/v1/runtime.pb.h"
#include "engine/store/serialize.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tools/generator/generator.h"

namespace crm::task {
namespace {

// What protobuf writes for OutboxRecord{transition: BuildTransition(t)}.
std::string ByProtobuf(const projections::TransitionRef& t) {
  v1::OutboxRecord record;
  projections::BuildTransition(t, record.mutable_transition());
  return store::SerializeDeterministic(record);
}

std::string Direct(const projections::TransitionRef& t) {
  std::string out;
  AppendTransitionRecord(t, &out);
  return out;
}

TEST(TransitionRecordTest, EqualsProtobufAtTheEdgesOfTheWireFormat) {
  const std::string long_why(300, 'w');  // a two-byte length
  const std::string huge(20000, 'h');    // three-byte lengths, body too
  std::vector<projections::TransitionRef> cases;
  cases.emplace_back();  // every field empty, `at` the epoch: {at: {}}
  {
    projections::TransitionRef t;
    t.customer_id = "c-1";
    t.kind = v1::TRANSITION_KIND_GRADE_CHANGED;
    t.dimension = "value_tier";
    t.from = "VALUE_TIER_SMALL";
    t.to = "VALUE_TIER_MEDIUM";
    t.at = absl::FromUnixSeconds(1767225600);
    t.rules_version = "2026-12-default";
    t.why = "revenue_window 2000000 >= medium_min_minor 2000000";
    t.event_id = "e-17";
    cases.push_back(t);
    t.why = long_why;
    t.subject_id = "complaint-9";
    cases.push_back(t);
    t.at = absl::FromUnixSeconds(1767225600) + absl::Nanoseconds(1);
    cases.push_back(t);
    t.at = absl::FromUnixSeconds(-86400) + absl::Milliseconds(250);
    cases.push_back(t);  // before 1970: a ten-byte seconds varint
    t.at = absl::UnixEpoch() + absl::Nanoseconds(999999999);
    cases.push_back(t);                            // nanos only
    t.kind = static_cast<v1::TransitionKind>(-2);  // ten-byte enum varint
    cases.push_back(t);
    t.kind = static_cast<v1::TransitionKind>(300);  // two-byte varint
    t.why = huge;
    cases.push_back(t);
    t.customer_id = "";  // unset fields are left out
    t.from = "";
    t.event_id = "";
    cases.push_back(t);
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(Direct(cases[i]), ByProtobuf(cases[i])) << "case " << i;
  }
  // Appends, and the bytes parse back to the transition.
  std::string two = "x";
  AppendTransitionRecord(cases[1], &two);
  EXPECT_EQ(two, "x" + ByProtobuf(cases[1]));
  v1::OutboxRecord parsed;
  ASSERT_TRUE(parsed.ParseFromString(two.substr(1)));
  EXPECT_EQ(parsed.transition().why(), cases[1].why);
  EXPECT_EQ(parsed.transition().at().seconds(), 1767225600);
}

// Collects both encodings of every transition raised.
class BothSink : public projections::TransitionSink {
 public:
  void Raise(const projections::TransitionRef& t) override {
    direct.push_back(Direct(t));
    by_protobuf.push_back(ByProtobuf(t));
  }
  std::vector<std::string> direct;
  std::vector<std::string> by_protobuf;
};

// Over a generated history: ApplyEventToSink raises exactly ApplyEvent's
// transitions, and each one's direct record equals protobuf's.
TEST(TransitionRecordTest, EveryTransitionOfAHistoryEqualsApplyEvents) {
  generator::GeneratorOptions options;
  options.customers = 300;
  options.months = 18;
  options.seed = 5;
  auto gen = *generator::Generator::Create(options);
  const v1::Rules rules = projections::DefaultRules();
  std::map<std::string, v1::CustomerState> by_message, by_sink;
  BothSink sink;
  size_t transitions = 0;
  size_t events = 0;
  v1::Envelope e;
  while (gen->Next(&e)) {
    ++events;
    auto messages =
        projections::ApplyEvent(e, rules, &by_message[e.customer_id()]);
    const size_t before = sink.direct.size();
    auto raised = projections::ApplyEventToSink(
        e, rules, &by_sink[e.customer_id()], &sink);
    ASSERT_EQ(messages.ok(), raised.ok()) << e.event_id();
    if (!messages.ok()) continue;
    ASSERT_EQ(*raised, messages->size()) << e.event_id();
    ASSERT_EQ(sink.direct.size() - before, messages->size());
    for (size_t k = 0; k < messages->size(); ++k) {
      v1::OutboxRecord record;
      *record.mutable_transition() = (*messages)[k];
      EXPECT_EQ(sink.by_protobuf[before + k],
                store::SerializeDeterministic(record))
          << e.event_id() << " #" << k;
      EXPECT_EQ(sink.direct[before + k], sink.by_protobuf[before + k])
          << e.event_id() << " #" << k;
    }
    transitions += messages->size();
  }
  EXPECT_GT(events, 5000u);
  EXPECT_GT(transitions, 1000u);
  for (const auto& [id, state] : by_message) {
    EXPECT_EQ(store::SerializeDeterministic(state),
              store::SerializeDeterministic(by_sink[id]))
        << id;
  }
}

}  // namespace
}  // namespace crm::task
