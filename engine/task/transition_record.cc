#include "engine/task/transition_record.h"

#include <cstdint>

#include "crm/v1/runtime.pb.h"
#include "crm/v1/views.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "projections/rules/units.h"

namespace crm::task {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

// Every field number here is below 16: its tag is one byte.
char Tag(int field, WireFormatLite::WireType type) {
  return static_cast<char>(WireFormatLite::MakeTag(field, type));
}

void PutVarint(uint64_t v, std::string* out) {
  uint8_t buf[10];
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(v, buf);
  out->append(reinterpret_cast<const char*>(buf), end - buf);
}

// A proto3 string field: absent when empty.
size_t StringSize(absl::string_view s) {
  return s.empty() ? 0
                   : 1 + CodedOutputStream::VarintSize64(s.size()) + s.size();
}

void PutString(int field, absl::string_view s, std::string* out) {
  if (s.empty()) return;
  out->push_back(Tag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  PutVarint(s.size(), out);
  out->append(s.data(), s.size());
}

// int32 / int64 / enum values are varints of their 64-bit two's complement
// (a negative one takes ten bytes), absent when zero.
size_t IntSize(int64_t v) {
  return v == 0 ? 0
                : 1 + CodedOutputStream::VarintSize64(static_cast<uint64_t>(v));
}

void PutInt(int field, int64_t v, std::string* out) {
  if (v == 0) return;
  out->push_back(Tag(field, WireFormatLite::WIRETYPE_VARINT));
  PutVarint(static_cast<uint64_t>(v), out);
}

}  // namespace

void AppendTransitionRecord(const projections::TransitionRef& t,
                            std::string* out) {
  using v1::Transition;
  constexpr auto kMessage = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  int64_t seconds = 0;
  int32_t nanos = 0;
  projections::TimestampParts(t.at, &seconds, &nanos);
  // google.protobuf.Timestamp: seconds = 1, nanos = 2.
  const size_t at_size = IntSize(seconds) + IntSize(nanos);
  const size_t body = StringSize(t.customer_id) + IntSize(t.kind) +
                      StringSize(t.dimension) + StringSize(t.from) +
                      StringSize(t.to) +
                      (1 + CodedOutputStream::VarintSize64(at_size) + at_size) +
                      StringSize(t.rules_version) + StringSize(t.why) +
                      StringSize(t.event_id) + StringSize(t.subject_id);
  out->reserve(out->size() + 1 + CodedOutputStream::VarintSize64(body) + body);
  out->push_back(Tag(v1::OutboxRecord::kTransitionFieldNumber, kMessage));
  PutVarint(body, out);
  // Fields in number order, as protobuf serializes them.
  PutString(Transition::kCustomerIdFieldNumber, t.customer_id, out);
  PutInt(Transition::kKindFieldNumber, t.kind, out);
  PutString(Transition::kDimensionFieldNumber, t.dimension, out);
  PutString(Transition::kFromFieldNumber, t.from, out);
  PutString(Transition::kToFieldNumber, t.to, out);
  // `at` is always set (a message field present even when zero).
  out->push_back(Tag(Transition::kAtFieldNumber, kMessage));
  PutVarint(at_size, out);
  PutInt(1, seconds, out);
  PutInt(2, nanos, out);
  PutString(Transition::kRulesVersionFieldNumber, t.rules_version, out);
  PutString(Transition::kWhyFieldNumber, t.why, out);
  PutString(Transition::kEventIdFieldNumber, t.event_id, out);
  PutString(Transition::kSubjectIdFieldNumber, t.subject_id, out);
}

}  // namespace crm::task
