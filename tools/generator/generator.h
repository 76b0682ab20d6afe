#pragma once

// Sample multi-channel customer history: the data the demo, the tests and
// the benchmarks feed on. See tools/generator/README.md for the model.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "crm/v1/events.pb.h"
#include "tools/generator/random.h"

namespace crm::generator {

// What to generate. The same options always give the same events, byte for
// byte, on any platform: nothing reads the wall clock or the environment.
struct GeneratorOptions {
  // Number of customers, ids "C0000001", "C0000002", ... in order of
  // registration. Range 1..99,999,999.
  // Default: 1000
  int64_t customers = 1000;
  // Length of the history in calendar months from `start`; every event's
  // occurred_at is in [start, start + months). Range 1..600.
  // Default: 12
  int months = 12;
  // Seed of every random choice; also part of every event_id, so histories
  // of different seeds do not collide on ids.
  // Default: 1
  uint64_t seed = 1;
  // First instant of the history (UTC). Must be in [1970, 2100) together
  // with the whole window.
  // Default: 2024-01-01T00:00:00Z
  absl::Time start = absl::FromCivil(absl::CivilSecond(2024, 1, 1, 0, 0, 0),
                                     absl::UTCTimeZone());
  // ISO 4217 code of every Money; three upper-case letters.
  // Default: "USD"
  std::string currency = "USD";
  // Number of account managers ("am-001" ...). Range 1..999.
  // Default: 36
  int account_managers = 36;
};

// OK, or kInvalidArgument naming the bad option and its allowed range.
absl::Status ValidateOptions(const GeneratorOptions& options);

// Counters of what a Generator has produced so far.
struct GeneratorStats {
  int64_t events = 0;
  // Indexed by crm::v1::Envelope::BodyCase (the body field number, 10..24).
  int64_t events_by_body[32] = {};
  // Customers admitted so far; each one's registration event is emitted
  // on the day it is admitted.
  int64_t customers_registered = 0;
  // Largest number of scheduled-but-not-yet-emitted items held at once:
  // the memory bound (see README.md, "Memory").
  int64_t peak_pending = 0;
};

namespace internal {
struct Customer;
struct Pending;
}  // namespace internal

// Streams the history as crm::v1::Envelope in non-decreasing occurred_at
// order; within one customer, causes come strictly before their effects
// (registration first, an order before its payment, cancellation or return,
// a complaint's opening before its resolution, an opportunity's stages in
// order). Every event satisfies the rules of events.proto.
//
// Memory is O(customers), about 150 bytes per registered customer, and
// independent of the number of events (README.md, "Memory").
//
// Owned by one caller; not thread-safe. Use one Generator per thread.
class Generator {
 public:
  // kInvalidArgument if the options are out of range (see ValidateOptions).
  static absl::StatusOr<std::unique_ptr<Generator>> Create(
      const GeneratorOptions& options);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Replaces *event with the next event and returns true, or returns false
  // (leaving *event unspecified) when the history is complete.
  bool Next(crm::v1::Envelope* event);

  const GeneratorStats& stats() const { return stats_; }
  const GeneratorOptions& options() const { return options_; }
  // The exclusive end of the window: start + months.
  absl::Time end() const { return end_; }

 private:
  explicit Generator(const GeneratorOptions& options);

  // Calendar queue: one unsorted bucket per day ahead, a heap for today.
  void Schedule(internal::Pending p);
  bool AdvanceDay();
  void Admit(int64_t index, int64_t day);

  // Handles one due item; true if it wrote an event into *event.
  bool Handle(const internal::Pending& p, crm::v1::Envelope* event);

  // Helpers shared by the handlers (generator.cc).
  crm::v1::Envelope* Begin(internal::Customer& c, uint32_t index,
                           crm::v1::Channel channel, const std::string& actor,
                           crm::v1::Envelope* event);
  int64_t TimeOnDay(int64_t day, crm::v1::Channel channel, Rng& rng) const;
  int64_t LaterOnDay(int64_t after_seconds, int64_t days,
                     crm::v1::Channel channel, Rng& rng) const;
  int64_t NextOrderTime(internal::Customer& c, int64_t from) const;
  double Season(int64_t seconds) const;
  int64_t DayOf(int64_t seconds) const { return seconds / 86400; }
  void SetMoney(crm::v1::Money* m, int64_t minor_units) const;
  void SetTime(google::protobuf::Timestamp* ts, int64_t seconds) const;
  void FillProfile(uint32_t index, crm::v1::CustomerProfile* profile, Rng& rng);
  void FillContacts(uint32_t index, crm::v1::CustomerProfile* profile,
                    Rng& rng);
  const std::string& Actor(const internal::Customer& c,
                           crm::v1::Channel channel, Rng& rng) const;
  crm::v1::Channel OrderChannel(const internal::Customer& c, Rng& rng) const;

  bool HandleRegister(internal::Customer& c, const internal::Pending& p,
                      crm::v1::Envelope* event);
  bool HandleOrderStream(internal::Customer& c, const internal::Pending& p,
                         crm::v1::Envelope* event);
  bool HandleTouchStream(internal::Customer& c, const internal::Pending& p,
                         crm::v1::Envelope* event);
  bool HandleMiscStream(internal::Customer& c, const internal::Pending& p,
                        crm::v1::Envelope* event);
  bool HandlePayment(internal::Customer& c, const internal::Pending& p,
                     crm::v1::Envelope* event);
  bool HandleCancel(internal::Customer& c, const internal::Pending& p,
                    crm::v1::Envelope* event);
  bool HandleReturn(internal::Customer& c, const internal::Pending& p,
                    crm::v1::Envelope* event);
  bool HandleComplaintOpen(internal::Customer& c, const internal::Pending& p,
                           crm::v1::Envelope* event);
  bool HandleComplaintResolve(internal::Customer& c, const internal::Pending& p,
                              crm::v1::Envelope* event);
  bool HandleSurvey(internal::Customer& c, const internal::Pending& p,
                    crm::v1::Envelope* event);
  bool HandleLead(internal::Customer& c, const internal::Pending& p,
                  crm::v1::Envelope* event);
  bool HandleOpportunity(internal::Customer& c, const internal::Pending& p,
                         crm::v1::Envelope* event);
  bool HandleGreetingVisit(internal::Customer& c, const internal::Pending& p,
                           crm::v1::Envelope* event);
  bool HandleWinBack(internal::Customer& c, const internal::Pending& p,
                     crm::v1::Envelope* event);

  GeneratorOptions options_;
  GeneratorStats stats_;
  absl::Time end_;
  int64_t start_unix_ = 0;      // options_.start in Unix seconds
  int start_year_ = 0;          // civil year of start (UTC)
  int64_t start_tod_ = 0;       // seconds since midnight UTC of start
  int64_t window_seconds_ = 0;  // end_ - start, in seconds
  int64_t num_days_ = 0;        // days touched by the window
  std::string id_prefix_;       // "g<seed tag>-"

  // Registration day of each customer is monotone in its index, so
  // customers are admitted lazily, day by day, in id order.
  std::vector<int64_t> first_index_of_day_;  // size num_days_ + 1
  int64_t next_admit_ = 0;

  std::vector<std::unique_ptr<internal::Customer[]>> customers_;  // chunks
  std::vector<std::vector<internal::Pending>> buckets_;           // by day
  std::vector<internal::Pending> today_;                          // min-heap
  int64_t day_ = -1;          // day whose items are in today_
  bool opening_day_ = false;  // admitting customers: today_ is not a heap
  int64_t now_ = 0;           // seconds from start of the item being handled
  uint64_t seq_ = 0;          // insertion counter: ties break by it
  int64_t pending_ = 0;       // items scheduled, not yet handled

  std::vector<double> day_season_;  // seasonality factor of each day
  std::vector<int> day_month_;      // month of year (1..12) of each day
  std::vector<absl::CivilDay> day_civil_;

  // Actor names, formatted once.
  std::vector<std::string> managers_;
  std::vector<std::string> agents_;
  std::vector<std::string> tills_;
};

}  // namespace crm::generator
