#pragma once

// Names of the enum values the projector writes into transitions and
// histories, as the generated *_Name() functions return them, without their
// descriptor lookup: constant tables, held equal to protobuf's names by
// projector_test. Values outside a table use the generated function.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/views.pb.h"

namespace crm::projections::internal {

inline constexpr absl::string_view kValueTierNames[] = {
    "VALUE_TIER_UNSPECIFIED", "VALUE_TIER_VIP", "VALUE_TIER_LARGE",
    "VALUE_TIER_MEDIUM", "VALUE_TIER_SMALL"};
inline constexpr absl::string_view kProspectGradeNames[] = {
    "PROSPECT_GRADE_UNSPECIFIED", "PROSPECT_GRADE_A", "PROSPECT_GRADE_B",
    "PROSPECT_GRADE_C", "PROSPECT_GRADE_D"};
inline constexpr absl::string_view kValueClassNames[] = {
    "VALUE_CLASS_UNSPECIFIED", "VALUE_CLASS_MVC", "VALUE_CLASS_MGC",
    "VALUE_CLASS_BZC", "VALUE_CLASS_NORMAL"};
inline constexpr absl::string_view kWalletQuadrantNames[] = {
    "WALLET_QUADRANT_UNSPECIFIED", "WALLET_QUADRANT_KEEP",
    "WALLET_QUADRANT_MAINTAIN_OR_ACQUIRE", "WALLET_QUADRANT_DEVELOP",
    "WALLET_QUADRANT_ACQUIRE_OR_ABANDON"};
inline constexpr absl::string_view kCustomerClassNames[] = {
    "CUSTOMER_CLASS_UNSPECIFIED", "CUSTOMER_CLASS_KEY",
    "CUSTOMER_CLASS_ORDINARY", "CUSTOMER_CLASS_SPECIAL"};
inline constexpr absl::string_view kAbcClassNames[] = {
    "ABC_CLASS_UNSPECIFIED", "ABC_CLASS_A", "ABC_CLASS_B", "ABC_CLASS_C"};
inline constexpr absl::string_view kLifecycleStageNames[] = {
    "LIFECYCLE_STAGE_UNSPECIFIED", "LIFECYCLE_STAGE_PROSPECT",
    "LIFECYCLE_STAGE_LEAD",        "LIFECYCLE_STAGE_NEW",
    "LIFECYCLE_STAGE_ACTIVE",      "LIFECYCLE_STAGE_LOYAL",
    "LIFECYCLE_STAGE_AT_RISK",     "LIFECYCLE_STAGE_CHURNED",
    "LIFECYCLE_STAGE_WON_BACK"};

// table[v] if v indexes it, else the generated name.
template <size_t N, typename Generated>
absl::string_view EnumName(const absl::string_view (&table)[N], int v,
                           Generated generated) {
  if (v >= 0 && static_cast<size_t>(v) < N) return table[v];
  return generated(v);
}

inline absl::string_view ValueTierName(int v) {
  return EnumName(kValueTierNames, v, [](int x) -> const std::string& {
    return v1::ValueTier_Name(static_cast<v1::ValueTier>(x));
  });
}
inline absl::string_view ProspectGradeName(int v) {
  return EnumName(kProspectGradeNames, v, [](int x) -> const std::string& {
    return v1::ProspectGrade_Name(static_cast<v1::ProspectGrade>(x));
  });
}
inline absl::string_view ValueClassName(int v) {
  return EnumName(kValueClassNames, v, [](int x) -> const std::string& {
    return v1::ValueClass_Name(static_cast<v1::ValueClass>(x));
  });
}
inline absl::string_view WalletQuadrantName(int v) {
  return EnumName(kWalletQuadrantNames, v, [](int x) -> const std::string& {
    return v1::WalletQuadrant_Name(static_cast<v1::WalletQuadrant>(x));
  });
}
inline absl::string_view CustomerClassName(int v) {
  return EnumName(kCustomerClassNames, v, [](int x) -> const std::string& {
    return v1::CustomerClass_Name(static_cast<v1::CustomerClass>(x));
  });
}
inline absl::string_view AbcClassName(int v) {
  return EnumName(kAbcClassNames, v, [](int x) -> const std::string& {
    return v1::AbcClass_Name(static_cast<v1::AbcClass>(x));
  });
}
inline absl::string_view LifecycleStageName(int v) {
  return EnumName(kLifecycleStageNames, v, [](int x) -> const std::string& {
    return v1::LifecycleStage_Name(static_cast<v1::LifecycleStage>(x));
  });
}

}  // namespace crm::projections::internal
