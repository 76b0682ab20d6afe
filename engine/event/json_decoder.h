#pragma once

// A fast decoder of protobuf's canonical JSON mapping, built on simdjson and
// protobuf reflection, so it is generic over the message type (the project
// uses it for crm.v1.Envelope). It produces the same message as
// google::protobuf::util::JsonStringToMessage (protobuf 3.21) for every
// RFC 8259 JSON text, and rejects what that parser rejects:
// - field names in lowerCamel (json_name) or as in the .proto;
// - enums by name, or by number (a JSON number may be any int32; a number in
//   a string must be a known value);
// - 32/64-bit integers as JSON numbers (integral values such as 1e2 or 7.0
//   too) or as strings of digits with an optional sign;
// - google.protobuf.Timestamp as an RFC 3339 string, or as an object of its
//   fields;
// - nested messages merge when a key repeats; a later scalar wins; null
//   means "not set"; a repeated field given one value holds that value;
//   nulls in a list are skipped and nested lists flattened;
// - a second member of one oneof is an error; unknown fields are errors.
// It is stricter than protobuf 3.21 in one way only: that parser also takes
// non-standard JSON (single-quoted strings, unquoted keys, trailing commas,
// unknown escapes such as \x, "1." numbers); this one requires RFC 8259
// JSON and rejects those.
// Maps and the well-known types other than Timestamp are not supported
// (kUnimplemented naming the field); crm.v1.Envelope has none.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace crm::event {

// Owned by one thread (it keeps simdjson's parser buffers between calls);
// create one per thread. Cheap to reuse, costly to create (it indexes the
// message types once).
class FastJsonDecoder {
 public:
  // Decodes JSON objects into messages of `type` (and its nested types).
  explicit FastJsonDecoder(const google::protobuf::Descriptor* type);
  ~FastJsonDecoder();
  FastJsonDecoder(const FastJsonDecoder&) = delete;
  FastJsonDecoder& operator=(const FastJsonDecoder&) = delete;

  // Parses one JSON object (surrounding white space allowed) into
  // `*message`, which must be of the constructor's type; it is cleared
  // first. kInvalidArgument "PATH: reason" naming the field with proto
  // names, e.g. "order_placed.amount.minor_units: expected an integer
  // (int64), got 1.5", or "invalid JSON: ..." for a syntax error.
  absl::Status Decode(absl::string_view json,
                      google::protobuf::Message* message);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::event
