#include "engine/event/validator.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"

namespace crm::event {
namespace {

using ::crm::v1::Envelope;
using ::google::protobuf::Timestamp;

constexpr int64_t kMinEventSeconds = 0;           // 1970-01-01T00:00:00Z
constexpr int64_t kMaxEventSeconds = 4102444800;  // 2100-01-01T00:00:00Z
constexpr int32_t kMaxNanos = 999999999;

// A field's path as errors name it ("profile.contacts[2].name"): a whole
// path, or a field below a parent path (with an index for a repeated
// field). Built as the checks descend and joined into text only when a
// check fails, so a valid event allocates nothing for its paths.
class Path {
 public:
  Path(const char* whole) : name_(whole) {}        // NOLINT: from literals
  Path(absl::string_view whole) : name_(whole) {}  // NOLINT
  Path(const Path& parent, absl::string_view field, int index = -1)
      : parent_(&parent), name_(field), index_(index) {}

  std::string str() const {
    std::string out;
    AppendTo(&out);
    return out;
  }

 private:
  void AppendTo(std::string* out) const {
    if (parent_ != nullptr) {
      parent_->AppendTo(out);
      out->push_back('.');
    }
    absl::StrAppend(out, name_);
    if (index_ >= 0) absl::StrAppend(out, "[", index_, "]");
  }

  const Path* parent_ = nullptr;
  absl::string_view name_;
  int index_ = -1;
};

absl::Status Invalid(const Path& path, absl::string_view expected,
                     absl::string_view got) {
  return absl::InvalidArgumentError(
      absl::StrCat(path.str(), ": ", expected, ", got ", got));
}

// Quoted for messages; long values are cut so one bad field cannot flood a
// report.
std::string Quote(absl::string_view s) {
  constexpr size_t kShown = 40;
  if (s.size() > kShown) {
    return absl::StrCat("\"", absl::CHexEscape(s.substr(0, kShown)), "...\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

// Characters of UTF-8 text (code points; bytes that do not start a code
// point are not counted).
size_t Utf8Length(absl::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string FormatTs(const Timestamp& ts) {
  return FormatRfc3339(FromProto(ts));
}

bool IsPrintableAscii(unsigned char c) { return c >= 0x20 && c <= 0x7E; }

// True when every byte of `s` is printable ASCII (0x20..0x7E), eight at a
// time: a byte is flagged by its high bit set, by a borrow when 0x20 is
// taken from it (below 0x20), or by being zero after an xor with 0x7F
// (DEL). Each test is exact when no byte has its high bit set, and the
// first catches every byte that has.
bool AllPrintableAscii(absl::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, sizeof x);
    const uint64_t del = x ^ (0x7F * kOnes);
    if (((x | ((x - 0x20 * kOnes) & ~x) | ((del - kOnes) & ~del)) & kHigh) !=
        0) {
      return false;
    }
  }
  for (; i < s.size(); ++i) {
    if (!IsPrintableAscii(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// An id: 1..max_len printable ASCII characters.
absl::Status CheckId(const Path& path, absl::string_view value,
                     size_t max_len) {
  if (value.empty()) return Invalid(path, "required", "empty string");
  if (value.size() > max_len) {
    return Invalid(path,
                   absl::StrCat("must be at most ", max_len, " characters"),
                   absl::StrCat(value.size()));
  }
  if (AllPrintableAscii(value)) return absl::OkStatus();
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (!IsPrintableAscii(c)) {
      return Invalid(path, "must be printable ASCII",
                     absl::StrFormat("byte 0x%02X at offset %d", c, i));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRequired(const Path& path, absl::string_view value) {
  if (value.empty()) return Invalid(path, "required", "empty string");
  return absl::OkStatus();
}

absl::Status CheckMaxLength(const Path& path, absl::string_view value,
                            size_t max_chars) {
  // A UTF-8 text has at most as many characters as bytes.
  if (value.size() <= max_chars) return absl::OkStatus();
  const size_t n = Utf8Length(value);
  if (n > max_chars) {
    return Invalid(path,
                   absl::StrCat("must be at most ", max_chars, " characters"),
                   absl::StrCat(n));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(const Path& path, int64_t value, int64_t lo,
                        int64_t hi) {
  if (value < lo || value > hi) {
    return Invalid(path, absl::StrCat("must be ", lo, "..", hi),
                   absl::StrCat(value));
  }
  return absl::OkStatus();
}

// An enum field that must be set to a known value. `name_of` is the
// generated *_Name, `is_valid` the generated *_IsValid.
template <typename IsValid>
absl::Status CheckRequiredEnum(
    const Path& path, int value,
    const google::protobuf::EnumDescriptor* (*type)(), IsValid is_valid) {
  if (!is_valid(value)) {
    return Invalid(path,
                   absl::StrCat("must be a known ", type()->name(), " value"),
                   absl::StrCat(value));
  }
  if (value == 0) {
    return Invalid(path, "required", type()->value(0)->name());
  }
  return absl::OkStatus();
}

// An enum field that may be unset (0) but, when set, must be known.
template <typename IsValid>
absl::Status CheckOptionalEnum(
    const Path& path, int value,
    const google::protobuf::EnumDescriptor* (*type)(), IsValid is_valid) {
  if (!is_valid(value)) {
    return Invalid(path,
                   absl::StrCat("must be a known ", type()->name(), " value"),
                   absl::StrCat(value));
  }
  return absl::OkStatus();
}

absl::Status CheckNanos(const Path& path, const Timestamp& ts) {
  if (ts.nanos() < 0 || ts.nanos() > kMaxNanos) {
    return Invalid(Path(path, "nanos"), "must be 0..999999999",
                   absl::StrCat(ts.nanos()));
  }
  return absl::OkStatus();
}

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() ||
         (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

// An optional timestamp of the body that must be strictly after occurred_at.
absl::Status CheckAfterOccurred(const Path& path, const Timestamp& ts,
                                const Envelope& e) {
  CRM_RETURN_IF_ERROR(CheckNanos(path, ts));
  if (!Before(e.occurred_at(), ts)) {
    return Invalid(path,
                   absl::StrCat("must be after occurred_at (",
                                FormatTs(e.occurred_at()), ")"),
                   FormatTs(ts));
  }
  return absl::OkStatus();
}

// Tracks the one currency an event may use across its Money fields.
class CurrencyScope {
 public:
  // `money_path` names a Money field and must outlive the scope (all
  // callers pass string literals); messages are built only on error.
  absl::Status Use(absl::string_view money_path, absl::string_view currency) {
    if (first_path_.empty()) {
      first_path_ = money_path;
      currency_ = currency;
      return absl::OkStatus();
    }
    if (currency != currency_) {
      return Invalid(
          Path(Path(money_path), "currency"),
          absl::StrCat("must match ", Path(first_path_, "currency").str(), " (",
                       currency_, "); one currency per event"),
          Quote(currency));
    }
    return absl::OkStatus();
  }

 private:
  absl::string_view first_path_;
  absl::string_view currency_;  // points into the event being validated
};

enum class Sign { kNonNegative, kPositive, kAny };

// Checks a Money field. `required`: the field must be present. `path` must
// outlive `scope` (callers pass string literals).
absl::Status CheckMoney(absl::string_view path, bool present,
                        const crm::v1::Money& m, Sign sign, bool required,
                        bool currency_required, CurrencyScope& scope) {
  if (!present) {
    if (required) return Invalid(path, "required", "unset");
    return absl::OkStatus();
  }
  // Paths are joined only on error: the valid path allocates nothing.
  if (sign == Sign::kNonNegative && m.minor_units() < 0) {
    return Invalid(Path(path, "minor_units"), "must be >= 0",
                   absl::StrCat(m.minor_units()));
  }
  if (sign == Sign::kPositive && m.minor_units() <= 0) {
    return Invalid(Path(path, "minor_units"), "must be > 0",
                   absl::StrCat(m.minor_units()));
  }
  if (m.currency().empty()) {
    if (currency_required) {
      return Invalid(Path(path, "currency"), "required", "empty string");
    }
    if (m.minor_units() != 0) {
      return Invalid(Path(path, "currency"), "required when minor_units != 0",
                     "empty string");
    }
    return absl::OkStatus();
  }
  const std::string& c = m.currency();
  bool ok = c.size() == 3;
  for (char ch : c) ok = ok && ch >= 'A' && ch <= 'Z';
  if (!ok) {
    return Invalid(Path(path, "currency"),
                   "must be 3 upper-case letters (ISO 4217)", Quote(c));
  }
  return scope.Use(path, c);
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  if (month == 2) {
    // Year 0 (unknown) allows 29 February.
    const bool leap =
        year == 0 || (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));
    return leap ? 29 : 28;
  }
  return kDays[month - 1];
}

absl::Status CheckDate(const Path& path, const crm::v1::Date& d) {
  if (d.year() != 0 && (d.year() < 1900 || d.year() > 2100)) {
    return Invalid(Path(path, "year"), "must be 0 (unknown) or 1900..2100",
                   absl::StrCat(d.year()));
  }
  CRM_RETURN_IF_ERROR(CheckRange(Path(path, "month"), d.month(), 1, 12));
  const int days = DaysInMonth(d.year(), d.month());
  if (d.day() < 1 || d.day() > days) {
    return Invalid(
        Path(path, "day"),
        d.year() == 0
            ? absl::StrCat("must be 1..", days, " for month ", d.month())
            : absl::StrCat("must be 1..", days, " for ", d.year(), "-",
                           absl::StrFormat("%02d", d.month())),
        absl::StrCat(d.day()));
  }
  return absl::OkStatus();
}

absl::Status CheckContact(const Path& path, const crm::v1::Contact& c) {
  CRM_RETURN_IF_ERROR(CheckRequired(Path(path, "name"), c.name()));
  CRM_RETURN_IF_ERROR(CheckMaxLength(Path(path, "name"), c.name(), 200));
  CRM_RETURN_IF_ERROR(CheckMaxLength(Path(path, "phone"), c.phone(), 40));
  if (!c.email().empty() && c.email().find('@') == std::string::npos) {
    return Invalid(Path(path, "email"), "must contain '@'", Quote(c.email()));
  }
  return absl::OkStatus();
}

absl::Status CheckProfile(const Path& path, const crm::v1::CustomerProfile& p) {
  CRM_RETURN_IF_ERROR(CheckMaxLength(Path(path, "name"), p.name(), 200));
  CRM_RETURN_IF_ERROR(CheckOptionalEnum(
      Path(path, "relationship_type"), p.relationship_type(),
      crm::v1::RelationshipType_descriptor, crm::v1::RelationshipType_IsValid));
  CRM_RETURN_IF_ERROR(CheckOptionalEnum(Path(path, "ownership"), p.ownership(),
                                        crm::v1::Ownership_descriptor,
                                        crm::v1::Ownership_IsValid));
  CRM_RETURN_IF_ERROR(CheckOptionalEnum(
      Path(path, "business_nature"), p.business_nature(),
      crm::v1::BusinessNature_descriptor, crm::v1::BusinessNature_IsValid));
  CRM_RETURN_IF_ERROR(CheckOptionalEnum(
      Path(path, "location_type"), p.location_type(),
      crm::v1::LocationType_descriptor, crm::v1::LocationType_IsValid));
  CRM_RETURN_IF_ERROR(CheckOptionalEnum(
      Path(path, "industry_position"), p.industry_position(),
      crm::v1::IndustryPosition_descriptor, crm::v1::IndustryPosition_IsValid));
  if (p.has_birthday()) {
    CRM_RETURN_IF_ERROR(CheckDate(Path(path, "birthday"), p.birthday()));
  }
  for (int i = 0; i < p.contacts_size(); ++i) {
    CRM_RETURN_IF_ERROR(CheckContact(Path(path, "contacts", i), p.contacts(i)));
  }
  return absl::OkStatus();
}

bool ProfileHasAnyField(const crm::v1::CustomerProfile& p) {
  return !p.name().empty() || p.relationship_type() != 0 ||
         p.ownership() != 0 || p.business_nature() != 0 ||
         p.location_type() != 0 || !p.region().empty() ||
         !p.industry().empty() || !p.account_manager().empty() ||
         p.has_birthday() || p.industry_position() != 0 ||
         p.contacts_size() > 0;
}

absl::Status CheckBody(const Envelope& e) {
  CurrencyScope scope;
  switch (e.body_case()) {
    case Envelope::kCustomerRegistered: {
      const auto& b = e.customer_registered();
      if (!b.has_profile()) {
        return Invalid("customer_registered.profile", "required", "unset");
      }
      CRM_RETURN_IF_ERROR(CheckRequired("customer_registered.profile.name",
                                        b.profile().name()));
      return CheckProfile("customer_registered.profile", b.profile());
    }
    case Envelope::kProfileUpdated: {
      const auto& b = e.profile_updated();
      if (!b.has_profile()) {
        return Invalid("profile_updated.profile", "required", "unset");
      }
      if (!ProfileHasAnyField(b.profile())) {
        return Invalid("profile_updated.profile", "must set at least one field",
                       "none");
      }
      return CheckProfile("profile_updated.profile", b.profile());
    }
    case Envelope::kVisitLogged: {
      const auto& b = e.visit_logged();
      CRM_RETURN_IF_ERROR(CheckRequiredEnum("visit_logged.kind", b.kind(),
                                            crm::v1::VisitKind_descriptor,
                                            crm::v1::VisitKind_IsValid));
      CRM_RETURN_IF_ERROR(CheckRange("visit_logged.duration_minutes",
                                     b.duration_minutes(), 0, 1440));
      CRM_RETURN_IF_ERROR(
          CheckMaxLength("visit_logged.notes", b.notes(), 4000));
      if (b.has_next_follow_up_at()) {
        CRM_RETURN_IF_ERROR(CheckAfterOccurred("visit_logged.next_follow_up_at",
                                               b.next_follow_up_at(), e));
      }
      return absl::OkStatus();
    }
    case Envelope::kCallLogged: {
      const auto& b = e.call_logged();
      CRM_RETURN_IF_ERROR(CheckRequiredEnum(
          "call_logged.direction", b.direction(),
          crm::v1::CallDirection_descriptor, crm::v1::CallDirection_IsValid));
      CRM_RETURN_IF_ERROR(CheckRange("call_logged.duration_seconds",
                                     b.duration_seconds(), 0, 86400));
      return CheckRequiredEnum("call_logged.outcome", b.outcome(),
                               crm::v1::CallOutcome_descriptor,
                               crm::v1::CallOutcome_IsValid);
    }
    case Envelope::kLeadQualified:
      return CheckRange("lead_qualified.score", e.lead_qualified().score(), 0,
                        100);
    case Envelope::kOpportunityUpdated: {
      const auto& b = e.opportunity_updated();
      CRM_RETURN_IF_ERROR(CheckRequired("opportunity_updated.opportunity_id",
                                        b.opportunity_id()));
      CRM_RETURN_IF_ERROR(
          CheckRequiredEnum("opportunity_updated.stage", b.stage(),
                            crm::v1::OpportunityStage_descriptor,
                            crm::v1::OpportunityStage_IsValid));
      CRM_RETURN_IF_ERROR(CheckRange("opportunity_updated.win_probability_pct",
                                     b.win_probability_pct(), 0, 100));
      CRM_RETURN_IF_ERROR(CheckMoney(
          "opportunity_updated.expected_amount", b.has_expected_amount(),
          b.expected_amount(), Sign::kNonNegative, false, false, scope));
      if (b.has_expected_close_at()) {
        CRM_RETURN_IF_ERROR(CheckNanos("opportunity_updated.expected_close_at",
                                       b.expected_close_at()));
      }
      return absl::OkStatus();
    }
    case Envelope::kOrderPlaced: {
      const auto& b = e.order_placed();
      CRM_RETURN_IF_ERROR(CheckRequired("order_placed.order_id", b.order_id()));
      CRM_RETURN_IF_ERROR(CheckMoney("order_placed.amount", b.has_amount(),
                                     b.amount(), Sign::kNonNegative, true, true,
                                     scope));
      CRM_RETURN_IF_ERROR(CheckMoney("order_placed.gross_profit",
                                     b.has_gross_profit(), b.gross_profit(),
                                     Sign::kAny, false, false, scope));
      if (b.gross_profit().minor_units() > b.amount().minor_units()) {
        return Invalid(
            "order_placed.gross_profit.minor_units",
            absl::StrCat("must be <= order_placed.amount.minor_units (",
                         b.amount().minor_units(), ")"),
            absl::StrCat(b.gross_profit().minor_units()));
      }
      CRM_RETURN_IF_ERROR(CheckMoney("order_placed.discount", b.has_discount(),
                                     b.discount(), Sign::kNonNegative, false,
                                     false, scope));
      CRM_RETURN_IF_ERROR(CheckMoney("order_placed.financing_cost",
                                     b.has_financing_cost(), b.financing_cost(),
                                     Sign::kNonNegative, false, false, scope));
      if (b.quantity() < 1) {
        return Invalid("order_placed.quantity", "must be >= 1",
                       absl::StrCat(b.quantity()));
      }
      return absl::OkStatus();
    }
    case Envelope::kOrderCancelled:
      return CheckRequired("order_cancelled.order_id",
                           e.order_cancelled().order_id());
    case Envelope::kOrderReturned: {
      const auto& b = e.order_returned();
      CRM_RETURN_IF_ERROR(
          CheckRequired("order_returned.order_id", b.order_id()));
      return CheckMoney("order_returned.refund_amount", b.has_refund_amount(),
                        b.refund_amount(), Sign::kNonNegative, false, false,
                        scope);
    }
    case Envelope::kPaymentReceived: {
      const auto& b = e.payment_received();
      CRM_RETURN_IF_ERROR(
          CheckRequired("payment_received.invoice_id", b.invoice_id()));
      CRM_RETURN_IF_ERROR(CheckMoney("payment_received.amount", b.has_amount(),
                                     b.amount(), Sign::kPositive, true, false,
                                     scope));
      CRM_RETURN_IF_ERROR(
          CheckRange("payment_received.days_late", b.days_late(), 0, 3650));
      return CheckMoney("payment_received.outstanding", b.has_outstanding(),
                        b.outstanding(), Sign::kNonNegative, false, false,
                        scope);
    }
    case Envelope::kComplaintOpened: {
      const auto& b = e.complaint_opened();
      CRM_RETURN_IF_ERROR(
          CheckRequired("complaint_opened.complaint_id", b.complaint_id()));
      CRM_RETURN_IF_ERROR(
          CheckRequiredEnum("complaint_opened.severity", b.severity(),
                            crm::v1::ComplaintSeverity_descriptor,
                            crm::v1::ComplaintSeverity_IsValid));
      CRM_RETURN_IF_ERROR(
          CheckRequiredEnum("complaint_opened.category", b.category(),
                            crm::v1::ComplaintCategory_descriptor,
                            crm::v1::ComplaintCategory_IsValid));
      CRM_RETURN_IF_ERROR(CheckOptionalEnum(
          "complaint_opened.raised_via", b.raised_via(),
          crm::v1::Channel_descriptor, crm::v1::Channel_IsValid));
      return CheckMaxLength("complaint_opened.summary", b.summary(), 4000);
    }
    case Envelope::kComplaintResolved: {
      const auto& b = e.complaint_resolved();
      CRM_RETURN_IF_ERROR(
          CheckRequired("complaint_resolved.complaint_id", b.complaint_id()));
      return CheckRequiredEnum("complaint_resolved.resolution", b.resolution(),
                               crm::v1::ComplaintResolution_descriptor,
                               crm::v1::ComplaintResolution_IsValid);
    }
    case Envelope::kSurveyAnswered: {
      const auto& b = e.survey_answered();
      CRM_RETURN_IF_ERROR(
          CheckRequired("survey_answered.survey_id", b.survey_id()));
      if (!b.has_csat() && !b.has_nps()) {
        return Invalid("survey_answered", "must set csat or nps", "neither");
      }
      if (b.has_csat()) {
        CRM_RETURN_IF_ERROR(CheckRange("survey_answered.csat", b.csat(), 1, 5));
      }
      if (b.has_nps()) {
        CRM_RETURN_IF_ERROR(CheckRange("survey_answered.nps", b.nps(), 0, 10));
      }
      return absl::OkStatus();
    }
    case Envelope::kWalletEstimated: {
      const auto& b = e.wallet_estimated();
      CRM_RETURN_IF_ERROR(CheckMoney("wallet_estimated.category_spend",
                                     b.has_category_spend(), b.category_spend(),
                                     Sign::kNonNegative, false, false, scope));
      return CheckMoney("wallet_estimated.planned_purchases",
                        b.has_planned_purchases(), b.planned_purchases(),
                        Sign::kNonNegative, false, false, scope);
    }
    case Envelope::kCustomerRegraded: {
      const auto& b = e.customer_regraded();
      switch (b.target_case()) {
        case crm::v1::CustomerRegraded::kValueTier:
          CRM_RETURN_IF_ERROR(CheckRequiredEnum(
              "customer_regraded.value_tier", b.value_tier(),
              crm::v1::ValueTier_descriptor, crm::v1::ValueTier_IsValid));
          break;
        case crm::v1::CustomerRegraded::kCustomerClass:
          CRM_RETURN_IF_ERROR(CheckRequiredEnum(
              "customer_regraded.customer_class", b.customer_class(),
              crm::v1::CustomerClass_descriptor,
              crm::v1::CustomerClass_IsValid));
          break;
        case crm::v1::CustomerRegraded::kStars:
          CRM_RETURN_IF_ERROR(
              CheckRange("customer_regraded.stars", b.stars(), 1, 5));
          break;
        case crm::v1::CustomerRegraded::TARGET_NOT_SET:
          return Invalid("customer_regraded.target",
                         "must set one of value_tier, customer_class, stars",
                         "none");
      }
      CRM_RETURN_IF_ERROR(
          CheckRequired("customer_regraded.reason", b.reason()));
      CRM_RETURN_IF_ERROR(
          CheckMaxLength("customer_regraded.reason", b.reason(), 1000));
      if (b.has_expires_at()) {
        CRM_RETURN_IF_ERROR(CheckAfterOccurred("customer_regraded.expires_at",
                                               b.expires_at(), e));
      }
      return absl::OkStatus();
    }
    case Envelope::BODY_NOT_SET:
      return Invalid("body", "required (one event, e.g. order_placed)", "none");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Validate(const Envelope& e) {
  CRM_RETURN_IF_ERROR(CheckId("event_id", e.event_id(), 128));
  CRM_RETURN_IF_ERROR(CheckId("customer_id", e.customer_id(), 64));
  if (!e.has_occurred_at()) return Invalid("occurred_at", "required", "unset");
  CRM_RETURN_IF_ERROR(CheckNanos("occurred_at", e.occurred_at()));
  const int64_t secs = e.occurred_at().seconds();
  if (secs < kMinEventSeconds || secs >= kMaxEventSeconds) {
    return Invalid("occurred_at",
                   "must be >= 1970-01-01T00:00:00Z and < 2100-01-01T00:00:00Z",
                   FormatTs(e.occurred_at()));
  }
  if (e.has_recorded_at()) {
    CRM_RETURN_IF_ERROR(CheckNanos("recorded_at", e.recorded_at()));
    if (Before(e.recorded_at(), e.occurred_at())) {
      return Invalid("recorded_at",
                     absl::StrCat("must not be before occurred_at (",
                                  FormatTs(e.occurred_at()), ")"),
                     FormatTs(e.recorded_at()));
    }
  }
  CRM_RETURN_IF_ERROR(CheckRequiredEnum("channel", e.channel(),
                                        crm::v1::Channel_descriptor,
                                        crm::v1::Channel_IsValid));
  CRM_RETURN_IF_ERROR(CheckMaxLength("actor", e.actor(), 128));
  if (e.schema_version() > 1) {
    return Invalid("schema_version", "must be 0 or 1 (this reader knows v1)",
                   absl::StrCat(e.schema_version()));
  }
  return CheckBody(e);
}

}  // namespace crm::event
