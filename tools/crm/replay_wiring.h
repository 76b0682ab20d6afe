#pragma once

// Helpers that crm replay and crm backtest share (defined in
// cmd_replay.cc).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/log/event_log.h"
#include "tools/crm/command.h"

namespace crm::cli {

// Present in a replay's --out directory while the replay runs.
inline constexpr char kReplayIncompleteMarker[] = "REPLAY_INCOMPLETE";

// --source: "embedded" (the data dir's log, read as a follower), "kafka"
// (needs --brokers; partitions read directly, no consumer group), an
// archive file, or empty (Kafka with --brokers, else embedded).
absl::StatusOr<std::unique_ptr<log::EventLog>> OpenReplaySource(
    const GlobalFlags& g, const std::string& source);

// An RFC 3339 flag value; kInvalidArgument naming the flag.
absl::StatusOr<absl::Time> ParseTimeFlag(const std::string& flag,
                                         const std::string& value);

// Makes `dir` an empty directory holding the incomplete-replay marker.
// kFailedPrecondition when it exists and is not empty, unless `force`
// (then it is removed first).
absl::Status PrepareReplayDir(const std::string& dir, bool force);

}  // namespace crm::cli
