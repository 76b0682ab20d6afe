#pragma once

// Satisfaction view: CSAT, NPS, complaints and their SLA, and the four
// degrees (satisfaction, loyalty, contribution, dependence). Pure functions;
// formulas in projections/satisfaction/README.md.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/views.pb.h"

namespace crm::projections {

// A complaint that missed its SLA.
struct SlaBreach {
  std::string complaint_id;
  v1::ComplaintSeverity severity = v1::COMPLAINT_SEVERITY_UNSPECIFIED;
  absl::Time due_at;
};

// Time allowed to resolve a complaint of `severity` (SatisfactionRules.sla);
// zero if the rules have no entry (ValidateRules forbids that).
absl::Duration SlaWindow(v1::ComplaintSeverity severity,
                         const v1::Rules& rules);

// Applies ComplaintOpened, ComplaintResolved and SurveyAnswered at the
// event's occurred_at; other events change nothing. A complaint resolved at
// or after its due time that was not yet marked breached is a breach and is
// returned. Opening an already open complaint id changes nothing; resolving
// an unknown one counts the resolution without a resolution time.
// Recomputes csat, nps and avg_resolution_hours (not the degrees).
std::vector<SlaBreach> ApplyToSatisfaction(const v1::Envelope& event,
                                           const v1::Rules& rules,
                                           v1::SatisfactionView* view);

// Marks every open complaint with due_at <= as_of as breached (once) and
// returns them in due order (ties: complaint id).
std::vector<SlaBreach> MarkBreaches(absl::Time as_of,
                                    v1::SatisfactionView* view);

// Earliest due_at strictly after `after` of an open, unbreached complaint;
// InfiniteFuture() if none.
absl::Time NextSlaDeadline(const v1::SatisfactionView& view, absl::Time after);

// 100 * satisfied / answers; 0 without answers.
double Csat(uint64_t answers, uint64_t satisfied);
// 100 * (promoters - detractors) / answers; 0 without answers.
double Nps(uint64_t answers, uint64_t promoters, uint64_t detractors);

// Satisfaction degree: the mean of the available scores among csat and
// (nps + 100) / 2 (50 when neither has answers), minus
// open_complaint_penalty per open complaint and sla_breach_penalty per SLA
// breach, clamped to [0, 100].
double SatisfactionDegree(const v1::SatisfactionView& view,
                          const v1::Rules& rules);

// Loyalty degree: 50 * min(1, max(0, net_orders - 1) /
// loyalty_full_repeat_orders) + 50 * min(1, tenure_days /
// loyalty_full_tenure_days).
double LoyaltyDegree(int64_t net_orders, int64_t tenure_days,
                     const v1::Rules& rules);

// Dependence degree: 100 * share of wallet (0..1); 0 without an estimate.
double DependenceDegree(bool has_wallet, double share_of_wallet);

// Contribution degree: 100 * (total - revenue ranked above the customer) /
// total, i.e. the share of the population's revenue made by this customer
// and every customer ranked below it; 0 when the customer has no positive
// revenue or total <= 0. The top customer scores 100.
double ContributionDegree(int64_t revenue, int64_t revenue_ranked_above,
                          int64_t total);

}  // namespace crm::projections
