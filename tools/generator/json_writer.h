#pragma once

// A fast writer of crm.v1.Envelope in protobuf's canonical JSON mapping, as
// google::protobuf::util::MessageToJsonString prints it with default options
// (single line, lowerCamelCase names, enums by name, 64-bit integers quoted,
// default values omitted). The generator's output goes through it: it is
// several times faster than the reflection-based printer. Equality with the
// printer is tested (tests/generator/json_writer_test.cc).

#include <string>

#include "crm/v1/events.pb.h"

namespace crm::generator {

// Appends the JSON of `event` (no trailing newline) to *out. Messages this
// writer cannot prove it prints identically (a string with a character
// protobuf might escape, a timestamp outside years 1..9999) are printed by
// protobuf's own printer instead, so the output is always the canonical one.
void AppendEnvelopeJson(const crm::v1::Envelope& event, std::string* out);

// protobuf's printer, for comparison and as the fallback. Returns false (and
// leaves *out unchanged) only if protobuf reports an error.
bool AppendEnvelopeJsonByReflection(const crm::v1::Envelope& event,
                                    std::string* out);

}  // namespace crm::generator
