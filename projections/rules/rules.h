#pragma once

// Loading, validating and defaulting segmentation rules (crm.v1.Rules).

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/rules.pb.h"

namespace crm::projections {

// Parses a crm.v1.Rules textproto and validates it. Errors are
// kInvalidArgument: a parse error names "<source>:<line>:<column>"; a
// validation error is ValidateRules()'s message. `source` names the text in
// messages (a file path or "<string>").
absl::StatusOr<v1::Rules> ParseRules(absl::string_view text,
                                     absl::string_view source = "<string>");

// Reads `path` and parses it with ParseRules. kNotFound if the file cannot
// be opened. The only function of the projections that touches the file
// system; runtime code calls it once at start-up, never per event.
absl::StatusOr<v1::Rules> LoadRulesFile(const std::string& path);

// Checks every constraint documented in rules.proto. Returns OK or
// kInvalidArgument whose message lists every violation, separated by "; ",
// each as "<field path>: <what is expected>, got <value>", e.g.
// "value_tier.large_min_minor: must be < vip_min_minor (100000000), got
// 200000000".
absl::Status ValidateRules(const v1::Rules& rules);

// The documented default rules; equal to deploy/rules/default.textproto
// (a test holds them equal). Valid.
v1::Rules DefaultRules();

// rules.ltv / rules.credit with every absent field set to its documented
// default (rules.proto), so rules files written before these sections stay
// valid and mean the defaults.
v1::LtvRules EffectiveLtvRules(const v1::Rules& rules);
v1::CreditRules EffectiveCreditRules(const v1::Rules& rules);

// The event time of one boundary of `schedule`: its anchor, or the Unix
// epoch when none is given. kInvalidArgument naming the field when the
// anchor is not RFC 3339.
absl::StatusOr<absl::Time> ScheduleAnchor(
    const v1::PopulationSchedule& schedule);

// The first boundary of rules.population_schedule strictly after `t`
// (anchor + k * every_days for an integer k); InfiniteFuture when the
// schedule is off. `t` = InfinitePast gives a boundary before any event
// time a log holds. The one definition of the boundaries, shared by the
// worker and the replay.
absl::Time NextPassBoundary(const v1::Rules& rules, absl::Time t);

}  // namespace crm::projections
