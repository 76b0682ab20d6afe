#pragma once

// Status helpers. Debian's Abseil (20220623) has no ABSL_RETURN_IF_ERROR, so
// the project defines its own, once, here.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CRM_INTERNAL_CONCAT_INNER(a, b) a##b
#define CRM_INTERNAL_CONCAT(a, b) CRM_INTERNAL_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define CRM_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::absl::Status crm_status_ = (expr);           \
    if (!crm_status_.ok()) return crm_status_;     \
  } while (false)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its status.
//   CRM_ASSIGN_OR_RETURN(auto log, EmbeddedLog::Open(dir));
#define CRM_ASSIGN_OR_RETURN(lhs, rexpr) \
  CRM_INTERNAL_ASSIGN_OR_RETURN(         \
      CRM_INTERNAL_CONCAT(crm_statusor_, __LINE__), lhs, rexpr)

#define CRM_INTERNAL_ASSIGN_OR_RETURN(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()
