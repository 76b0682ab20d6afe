#include "engine/task/transition_record.h"

#include <cstdint>

#include "crm/v1/runtime.pb.h"
#include "crm/v1/views.pb.h"
#include "projections/rules/units.h"

namespace crm::task {
namespace {

// Wire types.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kLengthDelimited = 2;

constexpr uint32_t Tag(int field, uint32_t wire_type) {
  return (static_cast<uint32_t>(field) << 3) | wire_type;
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// A proto3 string field: absent when empty. Tags here fit one byte.
size_t StringSize(absl::string_view s) {
  return s.empty() ? 0 : 1 + VarintSize(s.size()) + s.size();
}

void PutString(int field, absl::string_view s, std::string* out) {
  if (s.empty()) return;
  out->push_back(static_cast<char>(Tag(field, kLengthDelimited)));
  PutVarint(s.size(), out);
  out->append(s.data(), s.size());
}

// int32 / int64 / enum values are varints of their 64-bit two's complement
// (a negative one takes ten bytes), absent when zero.
size_t IntSize(int64_t v) {
  return v == 0 ? 0 : 1 + VarintSize(static_cast<uint64_t>(v));
}

void PutInt(int field, int64_t v, std::string* out) {
  if (v == 0) return;
  out->push_back(static_cast<char>(Tag(field, kVarint)));
  PutVarint(static_cast<uint64_t>(v), out);
}

}  // namespace

void AppendTransitionRecord(const projections::TransitionRef& t,
                            std::string* out) {
  using v1::Transition;
  int64_t seconds = 0;
  int32_t nanos = 0;
  projections::TimestampParts(t.at, &seconds, &nanos);
  // google.protobuf.Timestamp: seconds = 1, nanos = 2.
  const size_t at_size = IntSize(seconds) + IntSize(nanos);
  const size_t body = StringSize(t.customer_id) + IntSize(t.kind) +
                      StringSize(t.dimension) + StringSize(t.from) +
                      StringSize(t.to) + (1 + VarintSize(at_size) + at_size) +
                      StringSize(t.rules_version) + StringSize(t.why) +
                      StringSize(t.event_id) + StringSize(t.subject_id);
  out->reserve(out->size() + 1 + VarintSize(body) + body);
  out->push_back(static_cast<char>(
      Tag(v1::OutboxRecord::kTransitionFieldNumber, kLengthDelimited)));
  PutVarint(body, out);
  // Fields in number order, as protobuf serializes them.
  PutString(Transition::kCustomerIdFieldNumber, t.customer_id, out);
  PutInt(Transition::kKindFieldNumber, t.kind, out);
  PutString(Transition::kDimensionFieldNumber, t.dimension, out);
  PutString(Transition::kFromFieldNumber, t.from, out);
  PutString(Transition::kToFieldNumber, t.to, out);
  // `at` is always set (a message field present even when zero).
  out->push_back(
      static_cast<char>(Tag(Transition::kAtFieldNumber, kLengthDelimited)));
  PutVarint(at_size, out);
  PutInt(1, seconds, out);
  PutInt(2, nanos, out);
  PutString(Transition::kRulesVersionFieldNumber, t.rules_version, out);
  PutString(Transition::kWhyFieldNumber, t.why, out);
  PutString(Transition::kEventIdFieldNumber, t.event_id, out);
  PutString(Transition::kSubjectIdFieldNumber, t.subject_id, out);
}

}  // namespace crm::task
