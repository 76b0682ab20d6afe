#pragma once

// Small JSON text helpers shared by the event codecs and the CLI.
// Stateless; thread-safe.

#include <string>

#include "absl/strings/string_view.h"

namespace crm::event {

// Appends `s` as a JSON string literal (quotes included): escapes '"', '\\'
// and control characters; other bytes (UTF-8) are copied as they are.
void AppendJsonString(absl::string_view s, std::string* out);

// `s` as a JSON string literal.
std::string JsonString(absl::string_view s);

// Byte offset of the first invalid UTF-8 sequence in `s`, or -1 if `s` is
// valid UTF-8 (overlong forms, surrogates and code points above U+10FFFF
// are invalid).
long FirstInvalidUtf8(absl::string_view s);

}  // namespace crm::event
