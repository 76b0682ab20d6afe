#pragma once

#include <librdkafka/rdkafka.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crm::kafka {

// The one conversion from librdkafka error codes to absl::Status, chosen by
// what the caller should do:
//   broker down, transport errors, timeouts, leader changes -> kUnavailable
//   unknown topic or partition                              -> kNotFound
//   offset outside the kept log                             -> kOutOfRange
//   bad configuration, record too large, invalid request    -> kInvalidArgument
//   authentication / authorization                          ->
//   kPermissionDenied corrupt or undecodable stored data -> kDataLoss fatal
//   producer state, purged or fenced messages         -> kAborted full local
//   queue                                        -> kResourceExhausted anything
//   else                                           -> kUnknown
// The message is "<context>: <librdkafka text> [<error name>]", or without
// the context when `context` is empty. NO_ERROR gives OK.
absl::Status FromKafka(rd_kafka_resp_err_t err, absl::string_view context = "");

// The status code FromKafka() picks for `err` (no message).
absl::StatusCode KafkaErrorCode(rd_kafka_resp_err_t err);

}  // namespace crm::kafka
