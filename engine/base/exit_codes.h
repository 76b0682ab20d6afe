#pragma once

#include "absl/status/status.h"

namespace crm {

// Process exit codes of every `crm` subcommand, for scripts. Documented in
// the README; never renumber.
enum ExitCode : int {
  kExitOk = 0,              // did what was asked
  kExitInvalidInput = 1,    // input rejected (bad records, bad rules)
  kExitUsage = 2,           // bad command line
  kExitUnavailable = 3,     // broker or file system unavailable, I/O error
  kExitDataLoss = 4,        // stored data is corrupt
  kExitInternal = 5,        // a bug: anything else
  kExitNotImplemented = 6,  // subcommand not built yet in this version
  kExitNotFound = 7,        // unknown customer (crm get)
};

// Maps a failed status to the exit code a script should see.
inline int ExitCodeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
      return kExitInvalidInput;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kAborted:
      return kExitUnavailable;
    case absl::StatusCode::kDataLoss:
      return kExitDataLoss;
    case absl::StatusCode::kUnimplemented:
      return kExitNotImplemented;
    default:
      return kExitInternal;
  }
}

}  // namespace crm
