#include "projections/card/card.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/time_util.h"
#include "projections/rules/rules.h"
#include "projections/rules/text.h"
#include "projections/rules/units.h"

namespace crm::projections {
namespace {

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Days before the 1st of each month in a common year.
constexpr int kDaysBefore[12] = {0,   31,  59,  90,  120, 151,
                                 181, 212, 243, 273, 304, 334};

// The year of one day number and the next, to find yearly dates on or after
// that day with table lookups (one civil conversion per evaluation, none
// when `cache` already holds the year).
class AnnualCalendar {
 public:
  explicit AnnualCalendar(int64_t from, internal::CalendarYear* cache = nullptr)
      : from_(from) {
    if (cache != nullptr && cache->jan1 <= from && from < cache->next_jan1) {
      y_ = *cache;
      return;
    }
    const int64_t year = YearOfDay(from);
    y_.jan1 = DaysFromCivil(year, 1, 1);
    y_.leap = IsLeap(year);
    y_.next_leap = IsLeap(year + 1);
    y_.next_jan1 = y_.jan1 + (y_.leap ? 366 : 365);
    if (cache != nullptr) *cache = y_;
  }

  // First day number >= from that is `month`/`day` of its year (29
  // February -> 28 in other years; days past a month's end carry over).
  int64_t Next(int month, int day) const {
    const int64_t d = In(y_.jan1, y_.leap, month, day);
    return d >= from_ ? d : In(y_.next_jan1, y_.next_leap, month, day);
  }

 private:
  static int64_t In(int64_t jan1, bool leap, int month, int day) {
    if (month == 2 && day == 29 && !leap) day = 28;
    return jan1 + kDaysBefore[month - 1] + (month > 2 && leap ? 1 : 0) + day -
           1;
  }

  int64_t from_;
  internal::CalendarYear y_;
};

// NextAnnual on day numbers.
int64_t NextAnnualDay(int month, int day, int64_t from) {
  return AnnualCalendar(from).Next(month, day);
}

// Sets `*slot` to the later of itself and `at`. An unset slot reads as
// 1970-01-01, the earliest valid event time.
void Bump(google::protobuf::Timestamp* slot, absl::Time at) {
  if (TimeOf(*slot) < at) SetTimestamp(at, slot);
}

void Count(v1::ContactStat* stat, absl::Time at) {
  stat->set_count(stat->count() + 1);
  Bump(stat->mutable_last_at(), at);
}

// One yearly greeting: occurrence (day number) and due time at `as_of`.
struct Annual {
  int64_t occurrence;
  absl::Time due;
};

// `calendar` is of the day of as_of.
Annual AnnualDue(const AnnualCalendar& calendar, int month, int day,
                 int64_t lead_days, absl::Time last_visit) {
  int64_t b = calendar.Next(month, day);
  absl::Time due = DayStart(b - lead_days);
  if (last_visit != absl::InfinitePast() && last_visit >= due) {
    b = NextAnnualDay(month, day, b + 1);
    due = DayStart(b - lead_days);
  }
  return {b, due};
}

}  // namespace

absl::CivilDay NextAnnual(int month, int day, absl::CivilDay from) {
  if (month < 1 || month > 12) {
    // Not a yearly date the projector uses; CivilDay normalizes the month.
    auto in = [&](int64_t year) {
      if (month == 2 && day == 29 && !IsLeap(year)) day = 28;
      return absl::CivilDay(year, month, day);
    };
    const absl::CivilDay d = in(from.year());
    return d < from ? in(from.year() + 1) : d;
  }
  const absl::CivilDay epoch(1970, 1, 1);
  return epoch + NextAnnualDay(month, day, from - epoch);
}

void MergeProfile(const v1::CustomerProfile& u, v1::CustomerProfile* p) {
  if (!u.name().empty()) p->set_name(u.name());
  if (u.relationship_type() != 0)
    p->set_relationship_type(u.relationship_type());
  if (u.ownership() != 0) p->set_ownership(u.ownership());
  if (u.business_nature() != 0) p->set_business_nature(u.business_nature());
  if (u.location_type() != 0) p->set_location_type(u.location_type());
  if (!u.region().empty()) p->set_region(u.region());
  if (!u.industry().empty()) p->set_industry(u.industry());
  if (!u.account_manager().empty()) p->set_account_manager(u.account_manager());
  if (u.has_birthday()) *p->mutable_birthday() = u.birthday();
  if (u.industry_position() != 0)
    p->set_industry_position(u.industry_position());
  if (u.contacts_size() > 0) *p->mutable_contacts() = u.contacts();
}

void ApplyToCard(const v1::Envelope& e, v1::CustomerCard* card) {
  const absl::Time at = TimeOf(e.occurred_at());
  SetString(e.customer_id(), card->customer_id(),
            [card] { return card->mutable_customer_id(); });
  card->set_events_applied(card->events_applied() + 1);
  Bump(card->mutable_last_event_at(), at);
  if (!card->has_registered_at())
    SetTimestamp(at, card->mutable_registered_at());
  bool contact = true;
  switch (e.body_case()) {
    case v1::Envelope::kCustomerRegistered:
      // Registration time wins over "first event seen".
      SetTimestamp(at, card->mutable_registered_at());
      MergeProfile(e.customer_registered().profile(), card->mutable_profile());
      break;
    case v1::Envelope::kProfileUpdated:
      MergeProfile(e.profile_updated().profile(), card->mutable_profile());
      contact = false;
      break;
    case v1::Envelope::kVisitLogged:
      Count(card->mutable_visits(), at);
      break;
    case v1::Envelope::kCallLogged:
      Count(card->mutable_calls(), at);
      break;
    case v1::Envelope::kOrderPlaced:
      Count(card->mutable_orders(), at);
      break;
    case v1::Envelope::kComplaintOpened:
      Count(card->mutable_complaints(), at);
      break;
    case v1::Envelope::kSurveyAnswered:
      Count(card->mutable_surveys(), at);
      break;
    case v1::Envelope::kPaymentReceived: {
      Count(card->mutable_payments(), at);
      const auto& p = e.payment_received();
      auto* c = card->mutable_credit();
      c->set_payments(c->payments() + 1);
      if (p.days_late() > 0) c->set_late_payments(c->late_payments() + 1);
      c->set_max_days_late(std::max(c->max_days_late(), p.days_late()));
      c->set_total_days_late(c->total_days_late() + p.days_late());
      c->set_avg_days_late(static_cast<double>(c->total_days_late()) /
                           static_cast<double>(c->payments()));
      // The balance reported by the latest payment (by event time) stands.
      if (!c->has_last_payment_at() || TimeOf(c->last_payment_at()) <= at) {
        *c->mutable_outstanding() = p.outstanding();
        if (c->outstanding().currency().empty()) {
          c->mutable_outstanding()->set_currency(p.amount().currency());
        }
        SetTimestamp(at, c->mutable_last_payment_at());
      }
      c->mutable_paid_total()->set_minor_units(c->paid_total().minor_units() +
                                               p.amount().minor_units());
      c->mutable_paid_total()->set_currency(p.amount().currency());
      break;
    }
    case v1::Envelope::kWalletEstimated:
    case v1::Envelope::kCustomerRegraded:
      contact = false;
      break;
    default:
      break;
  }
  if (contact) Bump(card->mutable_last_contact_at(), at);
}

namespace internal {

absl::Time NextFollowUpAt(const FollowUpInputs& in, const v1::Rules& rules,
                          absl::Time as_of, const char** reason,
                          CalendarYear* year) {
  const auto& f = rules.follow_up();
  absl::Time best = absl::InfiniteFuture();
  *reason = "";
  std::optional<AnnualCalendar> cal;
  auto calendar = [&]() -> const AnnualCalendar& {
    if (!cal) cal.emplace(DayNumber(as_of), year);
    return *cal;
  };
  auto consider = [&](absl::Time at, const char* why) {
    if (at < best) {
      best = at;
      *reason = why;
    }
  };
  if (in.explicit_follow_up_at != absl::InfinitePast()) {
    consider(in.explicit_follow_up_at, "follow-up requested");
  }
  const absl::Time base = in.last_visit_at != absl::InfinitePast()
                              ? in.last_visit_at
                              : in.registered_at;
  if (base != absl::InfinitePast()) {
    int64_t cadence = f.ordinary_return_visit_days();
    if (in.customer_class == v1::CUSTOMER_CLASS_KEY) {
      cadence = f.key_return_visit_days();
    } else if (in.customer_class == v1::CUSTOMER_CLASS_SPECIAL) {
      cadence = f.special_return_visit_days();
    }
    consider(base + Days(cadence), "return visit");
  }
  if (in.has_birthday) {
    consider(AnnualDue(calendar(), in.birthday_month, in.birthday_day,
                       f.birthday_lead_days(), in.last_birthday_visit_at)
                 .due,
             "birthday");
  }
  for (const auto& h : f.holidays()) {
    consider(AnnualDue(calendar(), h.month(), h.day(), f.holiday_lead_days(),
                       in.last_holiday_visit_at)
                 .due,
             "holiday");
  }
  return best;
}

}  // namespace internal

FollowUp NextFollowUp(const FollowUpInputs& in, const v1::Rules& rules,
                      absl::Time as_of) {
  FollowUp best;
  const char* reason = "";
  best.at = internal::NextFollowUpAt(in, rules, as_of, &reason);
  best.reason = reason;
  return best;
}

absl::Time NextFollowUpDeadline(const FollowUpInputs& in,
                                const v1::Rules& rules, absl::Time after) {
  return internal::NextFollowUpDeadline(in, rules, after, nullptr);
}

absl::Time internal::NextFollowUpDeadline(const FollowUpInputs& in,
                                          const v1::Rules& rules,
                                          absl::Time after,
                                          CalendarYear* year) {
  const auto& f = rules.follow_up();
  absl::Time next = absl::InfiniteFuture();
  if (!in.has_birthday && f.holidays().empty()) return next;
  const AnnualCalendar calendar(DayNumber(after), year);
  auto consider = [&](int month, int day, int64_t lead, absl::Time visit) {
    const Annual a = AnnualDue(calendar, month, day, lead, visit);
    const absl::Time t = DayStart(a.occurrence + 1);
    if (t > after && t < next) next = t;
  };
  if (in.has_birthday) {
    consider(in.birthday_month, in.birthday_day, f.birthday_lead_days(),
             in.last_birthday_visit_at);
  }
  for (const auto& h : f.holidays()) {
    consider(h.month(), h.day(), f.holiday_lead_days(),
             in.last_holiday_visit_at);
  }
  return next;
}

namespace {

// rules.credit() when it sets every limit (DefaultRules and the shipped
// rules files do), else *filled: a copy with the defaults, made only then.
const v1::CreditRules& CreditLimits(const v1::Rules& rules,
                                    v1::CreditRules* filled) {
  const v1::CreditRules& c = rules.credit();
  const bool complete =
      c.has_aaa_max_days_late() && c.has_aa_max_days_late() &&
      c.has_a_max_days_late() && c.has_b_max_days_late() &&
      c.has_aaa_max_late_pct() && c.has_aa_max_late_pct() &&
      c.has_a_max_late_pct() && c.has_b_max_late_pct() &&
      c.has_aaa_max_outstanding_pct() && c.has_aa_max_outstanding_pct() &&
      c.has_a_max_outstanding_pct() && c.has_b_max_outstanding_pct();
  if (complete) return c;
  *filled = EffectiveCreditRules(rules);
  return *filled;
}

}  // namespace

v1::CreditClass RateCreditTo(const v1::CreditStanding& credit, uint64_t orders,
                             int64_t revenue_total_minor,
                             const v1::Rules& rules, TextBuffer* why) {
  why->Clear();
  const int64_t outstanding = credit.outstanding().minor_units();
  if (credit.payments() == 0 && outstanding <= 0) {
    why->Append("no payment and nothing outstanding");
    return v1::CREDIT_CLASS_UNRATED;
  }
  v1::CreditRules filled;
  const v1::CreditRules& r = CreditLimits(rules, &filled);
  // Class from a ladder of "within" tests, AAA first.
  auto ladder = [](bool aaa, bool aa, bool a, bool b) {
    if (aaa) return v1::CREDIT_CLASS_AAA;
    if (aa) return v1::CREDIT_CLASS_AA;
    if (a) return v1::CREDIT_CLASS_A;
    if (b) return v1::CREDIT_CLASS_B;
    return v1::CREDIT_CLASS_C;
  };
  auto name = [](v1::CreditClass c) {
    switch (c) {
      case v1::CREDIT_CLASS_AAA:
        return "AAA";
      case v1::CREDIT_CLASS_AA:
        return "AA";
      case v1::CREDIT_CLASS_A:
        return "A";
      case v1::CREDIT_CLASS_B:
        return "B";
      default:
        return "C";
    }
  };
  const uint32_t days = credit.max_days_late();
  const v1::CreditClass by_days =
      ladder(days <= r.aaa_max_days_late(), days <= r.aa_max_days_late(),
             days <= r.a_max_days_late(), days <= r.b_max_days_late());
  const unsigned __int128 late100 =
      static_cast<unsigned __int128>(credit.late_payments()) * 100;
  const unsigned __int128 pays = credit.payments();
  const v1::CreditClass by_share =
      ladder(late100 <= r.aaa_max_late_pct() * pays,
             late100 <= r.aa_max_late_pct() * pays,
             late100 <= r.a_max_late_pct() * pays,
             late100 <= r.b_max_late_pct() * pays);
  why->Append("days late ")
      .Append(days)
      .Append(": ")
      .Append(name(by_days))
      .Append("; late payments ")
      .Append(credit.late_payments())
      .Append(" of ")
      .Append(credit.payments())
      .Append(": ")
      .Append(name(by_share))
      .Append("; ");
  v1::CreditClass by_outstanding = v1::CREDIT_CLASS_AAA;
  if (outstanding <= 0) {
    why->Append("nothing outstanding");
  } else if (orders == 0 || revenue_total_minor <= 0) {
    by_outstanding = v1::CREDIT_CLASS_C;
    why->Append("outstanding with no order revenue");
  } else {
    const __int128 lhs = static_cast<__int128>(outstanding) * 100 *
                         static_cast<__int128>(orders);
    const __int128 total = revenue_total_minor;
    by_outstanding = ladder(lhs <= r.aaa_max_outstanding_pct() * total,
                            lhs <= r.aa_max_outstanding_pct() * total,
                            lhs <= r.a_max_outstanding_pct() * total,
                            lhs <= r.b_max_outstanding_pct() * total);
    // Whole percent, rounded down, for the text only.
    why->Append("outstanding ")
        .Append(static_cast<int64_t>(lhs / total))
        .Append("% of the typical order");
  }
  why->Append(": ").Append(name(by_outstanding));
  return std::max({by_days, by_share, by_outstanding});
}

CreditRating RateCredit(const v1::CreditStanding& credit, uint64_t orders,
                        int64_t revenue_total_minor, const v1::Rules& rules) {
  TextBuffer why;
  CreditRating out;
  out.credit_class =
      RateCreditTo(credit, orders, revenue_total_minor, rules, &why);
  out.why = why.str();
  return out;
}

}  // namespace crm::projections
