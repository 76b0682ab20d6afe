#pragma once

// Customer card: attributes (profile merge), contact history counts, last
// contact, credit standing, and the next follow-up due. Pure functions.

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/views.pb.h"
#include "projections/rules/text.h"

namespace crm::projections {

// Merges a CustomerRegistered / ProfileUpdated profile into `profile`: every
// set field (non-empty string, non-zero enum, present birthday) overwrites;
// a non-empty contacts list replaces all contacts.
void MergeProfile(const v1::CustomerProfile& update,
                  v1::CustomerProfile* profile);

// Applies one event to the card: profile, per-kind contact counts and last
// times, last contact (every event except ProfileUpdated, WalletEstimated and
// CustomerRegraded, which are records, not interactions), credit standing
// from payments, events_applied and last_event_at. Last times never move
// back for a late event. Does not compute the follow-up (NextFollowUp).
void ApplyToCard(const v1::Envelope& event, v1::CustomerCard* card);

// Credit rating class of a credit standing (rules.credit, through
// EffectiveCreditRules). Three measures each give a class, the worst wins:
// - days late: max_days_late <= aaa_max_days_late: AAA, <= aa_: AA, <= a_:
//   A, <= b_: B, else C;
// - late share: late_payments · 100 <= aaa_max_late_pct · payments: AAA,
//   and so on (no payment: AAA);
// - outstanding versus the typical order (revenue_total_minor / orders):
//   outstanding · 100 · orders <= aaa_max_outstanding_pct · revenue_total:
//   AAA, and so on; nothing outstanding: AAA; something outstanding and no
//   order or no revenue: C.
// Exact integer comparisons. No payment and nothing outstanding: UNRATED.
// `why` names each measure and its class, e.g. "days late 12: A; late
// payments 1 of 4: A; outstanding 150% of the typical order: AA".
struct CreditRating {
  v1::CreditClass credit_class = v1::CREDIT_CLASS_UNRATED;
  std::string why;
};
CreditRating RateCredit(const v1::CreditStanding& credit, uint64_t orders,
                        int64_t revenue_total_minor, const v1::Rules& rules);
// The same, with the why written into *why (cleared first): no allocation
// for the text, as the projector calls it for every payment and order.
v1::CreditClass RateCreditTo(const v1::CreditStanding& credit, uint64_t orders,
                             int64_t revenue_total_minor,
                             const v1::Rules& rules, TextBuffer* why);

// What the next follow-up depends on; times are InfinitePast() when unknown.
struct FollowUpInputs {
  v1::CustomerClass customer_class = v1::CUSTOMER_CLASS_UNSPECIFIED;
  absl::Time registered_at = absl::InfinitePast();
  absl::Time last_visit_at = absl::InfinitePast();
  absl::Time explicit_follow_up_at = absl::InfinitePast();  // latest visit's
  absl::Time last_birthday_visit_at = absl::InfinitePast();
  absl::Time last_holiday_visit_at = absl::InfinitePast();
  bool has_birthday = false;  // month and day known
  int birthday_month = 0;
  int birthday_day = 0;
};

struct FollowUp {
  absl::Time at = absl::InfiniteFuture();  // InfiniteFuture(): nothing due
  std::string reason;  // "follow-up requested", "return visit", "birthday",
                       // "holiday"
};

// The earliest of (ties in this order):
// - "follow-up requested": the latest visit's next_follow_up_at;
// - "return visit": last visit (or registration) + the class's cadence
//   (FollowUpRules; UNSPECIFIED uses the ordinary cadence);
// - "birthday": 00:00 UTC of the next birthday on or after as_of's day,
//   minus birthday_lead_days; once a birthday visit is logged on or after
//   that due time, the following year's;
// - "holiday": likewise for each holiday with holiday_lead_days.
// A 29 February date falls on 28 February in other years.
FollowUp NextFollowUp(const FollowUpInputs& in, const v1::Rules& rules,
                      absl::Time as_of);

// Earliest time strictly after `after` at which NextFollowUp changes with
// no new event: the day after the current birthday / holiday occurrence.
absl::Time NextFollowUpDeadline(const FollowUpInputs& in,
                                const v1::Rules& rules, absl::Time after);

// First day >= `from` that is `month`/`day` of its year (29 February -> 28
// February in non-leap years).
absl::CivilDay NextAnnual(int month, int day, absl::CivilDay from);

namespace internal {

// One calendar year on day numbers, [jan1, next_jan1), with the leap flags
// of it and the next year. A projector call keeps the last one used, so
// evaluations within one year convert no dates. Empty by default.
struct CalendarYear {
  int64_t jan1 = 1;
  int64_t next_jan1 = 0;
  bool leap = false;
  bool next_leap = false;
};

// NextFollowUp without building a string: the time, and *reason pointing
// at a constant ("" when nothing is due). `year` may be nullptr.
absl::Time NextFollowUpAt(const FollowUpInputs& in, const v1::Rules& rules,
                          absl::Time as_of, const char** reason,
                          CalendarYear* year = nullptr);

// NextFollowUpDeadline with a year cache (may be nullptr).
absl::Time NextFollowUpDeadline(const FollowUpInputs& in,
                                const v1::Rules& rules, absl::Time after,
                                CalendarYear* year);

}  // namespace internal

}  // namespace crm::projections
