#include "projections/satisfaction/satisfaction.h"

#include <algorithm>

#include "engine/base/time_util.h"
#include "projections/rules/units.h"

namespace crm::projections {
namespace {

void CountBreach(v1::ComplaintSeverity severity, v1::SatisfactionView* view) {
  view->set_sla_breaches(view->sla_breaches() + 1);
  auto* b = view->mutable_breaches_by_severity();
  switch (severity) {
    case v1::COMPLAINT_SEVERITY_LOW:
      b->set_low(b->low() + 1);
      break;
    case v1::COMPLAINT_SEVERITY_MEDIUM:
      b->set_medium(b->medium() + 1);
      break;
    case v1::COMPLAINT_SEVERITY_HIGH:
      b->set_high(b->high() + 1);
      break;
    case v1::COMPLAINT_SEVERITY_CRITICAL:
      b->set_critical(b->critical() + 1);
      break;
    default:
      break;
  }
}

void UpdateScores(v1::SatisfactionView* v) {
  v->set_csat(Csat(v->csat_answers(), v->csat_satisfied()));
  v->set_nps(Nps(v->nps_answers(), v->nps_promoters(), v->nps_detractors()));
  v->set_avg_resolution_hours(
      v->resolutions_timed() == 0
          ? 0
          : static_cast<double>(v->resolution_seconds_total()) /
                static_cast<double>(v->resolutions_timed()) / 3600.0);
}

}  // namespace

absl::Duration SlaWindow(v1::ComplaintSeverity severity,
                         const v1::Rules& rules) {
  for (const auto& s : rules.satisfaction().sla()) {
    if (s.severity() == severity) return absl::Hours(s.resolve_within_hours());
  }
  return absl::ZeroDuration();
}

std::vector<SlaBreach> ApplyToSatisfaction(const v1::Envelope& e,
                                           const v1::Rules& rules,
                                           v1::SatisfactionView* view) {
  std::vector<SlaBreach> breaches;
  const absl::Time at = TimeOf(e.occurred_at());
  switch (e.body_case()) {
    case v1::Envelope::kComplaintOpened: {
      const auto& c = e.complaint_opened();
      for (const auto& open : view->open_complaints()) {
        if (open.complaint_id() == c.complaint_id()) return breaches;
      }
      view->set_complaints_opened(view->complaints_opened() + 1);
      auto* open = view->add_open_complaints();
      open->set_complaint_id(c.complaint_id());
      open->set_severity(c.severity());
      open->set_category(c.category());
      *open->mutable_opened_at() = e.occurred_at();
      SetTimestamp(at + SlaWindow(c.severity(), rules), open->mutable_due_at());
      break;
    }
    case v1::Envelope::kComplaintResolved: {
      const auto& r = e.complaint_resolved();
      view->set_complaints_resolved(view->complaints_resolved() + 1);
      switch (r.resolution()) {
        case v1::COMPLAINT_RESOLUTION_SATISFIED:
          view->set_resolved_satisfied(view->resolved_satisfied() + 1);
          break;
        case v1::COMPLAINT_RESOLUTION_UNSATISFIED:
          view->set_resolved_unsatisfied(view->resolved_unsatisfied() + 1);
          break;
        case v1::COMPLAINT_RESOLUTION_WITHDRAWN:
          view->set_resolved_withdrawn(view->resolved_withdrawn() + 1);
          break;
        default:
          break;
      }
      auto* open = view->mutable_open_complaints();
      for (int i = 0; i < open->size(); ++i) {
        const auto& c = open->Get(i);
        if (c.complaint_id() != r.complaint_id()) continue;
        const absl::Time opened = TimeOf(c.opened_at());
        const absl::Time due = TimeOf(c.due_at());
        if (!c.breached() && at >= due) {
          breaches.push_back({c.complaint_id(), c.severity(), due});
          CountBreach(c.severity(), view);
        }
        view->set_resolutions_timed(view->resolutions_timed() + 1);
        view->set_resolution_seconds_total(
            view->resolution_seconds_total() +
            std::max<int64_t>(0, absl::ToInt64Seconds(at - opened)));
        open->DeleteSubrange(i, 1);
        break;
      }
      break;
    }
    case v1::Envelope::kSurveyAnswered: {
      const auto& s = e.survey_answered();
      if (s.has_csat()) {
        view->set_csat_answers(view->csat_answers() + 1);
        if (s.csat() >= 4) view->set_csat_satisfied(view->csat_satisfied() + 1);
      }
      if (s.has_nps()) {
        view->set_nps_answers(view->nps_answers() + 1);
        if (s.nps() >= 9) view->set_nps_promoters(view->nps_promoters() + 1);
        if (s.nps() <= 6) view->set_nps_detractors(view->nps_detractors() + 1);
      }
      break;
    }
    default:
      return breaches;
  }
  UpdateScores(view);
  return breaches;
}

std::vector<SlaBreach> MarkBreaches(absl::Time as_of,
                                    v1::SatisfactionView* view) {
  std::vector<SlaBreach> breaches;
  for (auto& c : *view->mutable_open_complaints()) {
    const absl::Time due = TimeOf(c.due_at());
    if (c.breached() || due > as_of) continue;
    c.set_breached(true);
    CountBreach(c.severity(), view);
    breaches.push_back({c.complaint_id(), c.severity(), due});
  }
  std::sort(breaches.begin(), breaches.end(),
            [](const SlaBreach& a, const SlaBreach& b) {
              if (a.due_at != b.due_at) return a.due_at < b.due_at;
              return a.complaint_id < b.complaint_id;
            });
  return breaches;
}

absl::Time NextSlaDeadline(const v1::SatisfactionView& view, absl::Time after) {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& c : view.open_complaints()) {
    if (c.breached()) continue;
    const absl::Time due = TimeOf(c.due_at());
    if (due > after && due < next) next = due;
  }
  return next;
}

double Csat(uint64_t answers, uint64_t satisfied) {
  if (answers == 0) return 0;
  return 100.0 * static_cast<double>(satisfied) / static_cast<double>(answers);
}

double Nps(uint64_t answers, uint64_t promoters, uint64_t detractors) {
  if (answers == 0) return 0;
  return 100.0 *
         (static_cast<double>(promoters) - static_cast<double>(detractors)) /
         static_cast<double>(answers);
}

double SatisfactionDegree(const v1::SatisfactionView& v,
                          const v1::Rules& rules) {
  double sum = 0;
  int n = 0;
  if (v.csat_answers() > 0) {
    sum += v.csat();
    ++n;
  }
  if (v.nps_answers() > 0) {
    sum += (v.nps() + 100.0) / 2.0;
    ++n;
  }
  double degree = n == 0 ? 50.0 : sum / n;
  degree -= rules.satisfaction().open_complaint_penalty() *
            static_cast<double>(v.open_complaints_size());
  degree -= rules.satisfaction().sla_breach_penalty() *
            static_cast<double>(v.sla_breaches());
  return std::min(100.0, std::max(0.0, degree));
}

double LoyaltyDegree(int64_t net_orders, int64_t tenure_days,
                     const v1::Rules& rules) {
  const auto& s = rules.satisfaction();
  const double repeat =
      std::min(1.0, static_cast<double>(std::max<int64_t>(0, net_orders - 1)) /
                        static_cast<double>(s.loyalty_full_repeat_orders()));
  const double tenure =
      std::min(1.0, static_cast<double>(std::max<int64_t>(0, tenure_days)) /
                        static_cast<double>(s.loyalty_full_tenure_days()));
  return 50.0 * repeat + 50.0 * tenure;
}

double DependenceDegree(bool has_wallet, double share_of_wallet) {
  if (!has_wallet) return 0;
  return std::min(100.0, std::max(0.0, 100.0 * share_of_wallet));
}

double ContributionDegree(int64_t revenue, int64_t revenue_ranked_above,
                          int64_t total) {
  if (revenue <= 0 || total <= 0) return 0;
  return 100.0 * static_cast<double>(total - revenue_ranked_above) /
         static_cast<double>(total);
}

}  // namespace crm::projections
