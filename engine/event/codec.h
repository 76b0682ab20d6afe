#pragma once

// Codecs of crm.v1.Envelope: the binary wire form (what the log stores) and
// protobuf's canonical JSON mapping (what channels send). Stateless free
// functions; thread-safe.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/v1/events.pb.h"

namespace crm::event {

// The binary protobuf encoding (deterministic: same event, same bytes).
std::string EncodeBinary(const crm::v1::Envelope& event);

// Appends the binary encoding to `*out` (reuses its capacity).
void EncodeBinaryTo(const crm::v1::Envelope& event, std::string* out);

// Parses the binary encoding. kInvalidArgument "not a valid crm.v1.Envelope:
// ..." when the bytes do not parse. Unknown fields are kept; the validator
// decides about unknown enum numbers.
absl::StatusOr<crm::v1::Envelope> DecodeBinary(absl::string_view bytes);

// Protobuf's JSON mapping, on one line: lowerCamel field names, enums by
// name, int64 as strings, Timestamps in RFC 3339. Fails only on events that
// JSON cannot represent (e.g. a Timestamp out of 0001..9999).
absl::StatusOr<std::string> EncodeJson(const crm::v1::Envelope& event);

// Parses one JSON object with protobuf's own parser
// (google::protobuf::util::JsonStringToMessage): accepts lowerCamel or
// original field names; unknown fields are an error. kInvalidArgument
// "not a valid crm.v1.Envelope JSON object: ..." otherwise. This is the
// reference for the faster FastJsonDecoder (json_decoder.h).
absl::StatusOr<crm::v1::Envelope> DecodeJson(absl::string_view json);

// As DecodeJson, into `*event` (cleared first).
absl::Status DecodeJsonTo(absl::string_view json, crm::v1::Envelope* event);

}  // namespace crm::event
