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
uint8_t* PutTag(int field, WireFormatLite::WireType type, uint8_t* p) {
  *p = static_cast<uint8_t>(WireFormatLite::MakeTag(field, type));
  return p + 1;
}

uint8_t* PutVarint(uint64_t v, uint8_t* p) {
  return CodedOutputStream::WriteVarint64ToArray(v, p);
}

// A proto3 string field: absent when empty.
size_t StringSize(absl::string_view s) {
  return s.empty() ? 0
                   : 1 + CodedOutputStream::VarintSize64(s.size()) + s.size();
}

uint8_t* PutString(int field, absl::string_view s, uint8_t* p) {
  if (s.empty()) return p;
  p = PutTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = PutVarint(s.size(), p);
  return CodedOutputStream::WriteRawToArray(s.data(),
                                            static_cast<int>(s.size()), p);
}

// int32 / int64 / enum values are varints of their 64-bit two's complement
// (a negative one takes ten bytes), absent when zero.
size_t IntSize(int64_t v) {
  return v == 0 ? 0
                : 1 + CodedOutputStream::VarintSize64(static_cast<uint64_t>(v));
}

uint8_t* PutInt(int field, int64_t v, uint8_t* p) {
  if (v == 0) return p;
  p = PutTag(field, WireFormatLite::WIRETYPE_VARINT, p);
  return PutVarint(static_cast<uint64_t>(v), p);
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
  const size_t start = out->size();
  out->resize(start + 1 + CodedOutputStream::VarintSize64(body) + body);
  uint8_t* p = reinterpret_cast<uint8_t*>(out->data()) + start;
  p = PutTag(v1::OutboxRecord::kTransitionFieldNumber, kMessage, p);
  p = PutVarint(body, p);
  // Fields in number order, as protobuf serializes them.
  p = PutString(Transition::kCustomerIdFieldNumber, t.customer_id, p);
  p = PutInt(Transition::kKindFieldNumber, t.kind, p);
  p = PutString(Transition::kDimensionFieldNumber, t.dimension, p);
  p = PutString(Transition::kFromFieldNumber, t.from, p);
  p = PutString(Transition::kToFieldNumber, t.to, p);
  // `at` is always set (a message field present even when zero).
  p = PutTag(Transition::kAtFieldNumber, kMessage, p);
  p = PutVarint(at_size, p);
  p = PutInt(1, seconds, p);
  p = PutInt(2, nanos, p);
  p = PutString(Transition::kRulesVersionFieldNumber, t.rules_version, p);
  p = PutString(Transition::kWhyFieldNumber, t.why, p);
  p = PutString(Transition::kEventIdFieldNumber, t.event_id, p);
  PutString(Transition::kSubjectIdFieldNumber, t.subject_id, p);
}

}  // namespace crm::task
