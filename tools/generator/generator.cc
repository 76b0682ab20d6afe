#include "tools/generator/generator.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::generator {

namespace v1 = ::crm::v1;

namespace internal {

// What a scheduled item does when it falls due.
enum Task : uint8_t {
  kRegister,
  kOrderStream,  // next order (recurring)
  kTouchStream,  // next visit or call (recurring)
  kMiscStream,   // profile update, wallet, survey, regrade... (recurring)
  kPayment,
  kCancel,
  kReturn,
  kComplaintOpen,
  kComplaintResolve,
  kSurvey,
  kLead,
  kOpportunity,
  kHolidayVisit,
  kBirthdayVisit,
  kWinBack,
};

// One scheduled item: 32 bytes. Follow-ups carry what their event needs
// (an order's amount and quantity) so nothing is looked up later.
struct Pending {
  uint64_t key;  // (seconds from start) << 32 | insertion sequence
  int64_t amount = 0;
  uint32_t customer = 0;
  uint32_t ref = 0;  // order / complaint / opportunity number
  uint8_t task = 0;
  uint8_t arg = 0;    // channel, stage, severity, survey kind...
  uint16_t arg2 = 0;  // quantity, days late
  int64_t time() const { return static_cast<int64_t>(key >> 32); }
};

struct PendingLater {
  bool operator()(const Pending& a, const Pending& b) const {
    return a.key > b.key;
  }
};

enum Archetype : uint8_t {
  kBuyer,         // orders from soon after registration
  kProspectLost,  // leads and opportunities, never orders
  kProspectWon,   // opportunity closes won, then orders
};

enum Flags : uint8_t {
  kBuying = 1,   // has started ordering
  kChurned = 2,  // stopped ordering (may be won back)
  kWonBack = 4,
  kKey = 8,  // key account: more visits, greeting visits
  kLatePayer = 16,
  kBzc = 32,      // high discounts and financing: costs more than it brings
  kStopped = 64,  // lost prospect that is no longer contacted
};

// The state of one customer: what its future events depend on. ~80 bytes.
struct Customer {
  Rng rng;
  int64_t outstanding = 0;  // unpaid invoices, minor units
  int64_t churn_at = 0;     // seconds from start; kNever if it stays
  int64_t winback_at = 0;   // when a churner returns; kNever if not
  int64_t last_complaint = 0;
  float order_rate = 0;    // orders per day
  float order_value = 0;   // mean order amount, minor units
  float satisfaction = 0;  // 0..1
  uint32_t events = 0;
  uint16_t orders = 0;
  uint16_t complaints = 0;
  uint16_t manager = 0;
  uint8_t opportunities = 0;
  uint8_t relationship = 0;
  uint8_t archetype = 0;
  uint8_t flags = 0;
  uint8_t region = 0;
  uint8_t open_complaints = 0;
  uint8_t birth_month = 1;
  uint8_t birth_day = 1;
};

}  // namespace internal

using internal::Customer;
using internal::Pending;

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kHour = 3600;
constexpr int64_t kNever = int64_t{1} << 40;
constexpr int kMaxMonths = 600;
constexpr int64_t kMaxCustomers = 99999999;
constexpr int kAgents = 40;
constexpr int kTillsPerRegion = 6;
constexpr int64_t kChunk = 1 << 14;  // customers per allocation

// Pending::arg of a kPayment item.
constexpr uint8_t kPayFirstInstalment = 1;  // invoice paid in two parts
constexpr uint8_t kPayAtStore = 2;          // consumer pays at the till
constexpr uint8_t kPayOnline = 3;           // consumer pays at web checkout

// Monthly seasonality of purchases and acquisition; Q4 peak.
constexpr double kSeason[12] = {0.80, 0.85, 0.95, 0.95, 1.00, 0.95,
                                0.90, 0.90, 1.00, 1.10, 1.35, 1.60};
constexpr double kMaxSeason = 1.60;

constexpr const char* kRegions[] = {"north",     "south",   "east",
                                    "west",      "central", "northeast",
                                    "southwest", "overseas"};
constexpr int kNumRegions = 8;
constexpr const char* kIndustries[] = {
    "retail-food", "retail-fashion", "manufacturing", "construction",
    "hospitality", "healthcare",     "education",     "logistics",
    "it-services", "agriculture",    "automotive",    "public-sector"};
constexpr const char* kFirstNames[] = {
    "James", "Mary",  "Wei",    "Fatima", "Carlos", "Anna",  "Yuki",
    "Olga",  "Ahmed", "Grace",  "Luca",   "Priya",  "Jonas", "Elena",
    "Omar",  "Sofia", "Daniel", "Mei",    "Kofi",   "Laura", "Ivan",
    "Nora",  "Pedro", "Aisha",  "Tom",    "Ingrid", "Raj",   "Chloe"};
constexpr const char* kLastNames[] = {
    "Smith",  "Chen",    "Garcia", "Muller", "Rossi",  "Tanaka",  "Silva",
    "Novak",  "Kim",     "Okafor", "Larsen", "Patel",  "Dubois",  "Kowalski",
    "Haddad", "Johnson", "Wang",   "Lopez",  "Ivanov", "Berg",    "Moreau",
    "Singh",  "Brown",   "Costa",  "Nagy",   "Ali",    "Fischer", "Park"};
constexpr const char* kCompanyWords[] = {
    "Northwind", "Bluepeak",  "Greenfield", "Ironbridge", "Silverline",
    "Redwood",   "Lakeside",  "Summit",     "Harbor",     "Oakridge",
    "Brightway", "Keystone",  "Riverbend",  "Sunrise",    "Westgate",
    "Eastfield", "Stonegate", "Clearwater", "Highland",   "Meridian"};
constexpr const char* kCompanyTrades[] = {
    "Trading",  "Foods",  "Systems", "Logistics", "Builders",   "Retail",
    "Supplies", "Motors", "Health",  "Partners",  "Industries", "Services"};
constexpr const char* kCompanySuffixes[] = {"Ltd",   "Inc", "GmbH", "Co",
                                            "Group", "LLC", "SA"};
constexpr const char* kRoles[] = {"purchasing manager",
                                  "owner",
                                  "accountant",
                                  "operations lead",
                                  "store manager",
                                  "procurement officer",
                                  "director"};
constexpr const char* kCategories[] = {
    "hardware",      "consumables",    "spare-parts", "software",
    "services",      "furniture",      "electronics", "apparel",
    "food-beverage", "office-supplies"};
constexpr const char* kCancelReasons[] = {
    "customer changed mind",  "duplicate order",     "out of stock",
    "delivery date too late", "credit check failed", "price dispute"};
constexpr const char* kReturnReasons[] = {"damaged in transit", "wrong item",
                                          "not as described", "defective",
                                          "no longer needed"};
constexpr const char* kLeadSources[] = {
    "web-campaign", "trade-fair", "referral", "cold-call",
    "partner",      "newsletter", "search-ad"};
constexpr const char* kVisitNotes[] = {
    "quarterly review",        "presented new range",
    "discussed pricing",       "checked stock levels",
    "collected feedback",      "introduced new contact",
    "negotiated annual terms", "resolved delivery issue"};
constexpr const char* kRegradeReasons[] = {
    "strategic account per sales director",
    "parent company is a key account",
    "temporary downgrade during credit review",
    "new framework contract",
    "manual correction after data import",
    "board-level relationship"};
// Two summaries per complaint category (index = category - 1).
constexpr const char* kComplaintSummaries[5][2] = {
    {"goods arrived damaged", "product stopped working"},
    {"delivery was late", "order was incomplete"},
    {"invoice amount is wrong", "charged twice"},
    {"staff were unhelpful", "could not reach support"},
    {"wrong contact details used", "other issue"}};

template <typename T, size_t N>
constexpr int Count(const T (&)[N]) {
  return static_cast<int>(N);
}

template <size_t N>
const char* Pick(const char* const (&list)[N], Rng& rng) {
  return list[rng.Uniform(N)];
}

void AppendPadded(std::string* s, uint64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (int i = n; i < width; ++i) s->push_back('0');
  while (n > 0) s->push_back(buf[--n]);
}

int64_t ToMinor(double x) {
  if (!(x > 0)) return 0;
  if (x > 5e10) x = 5e10;
  return static_cast<int64_t>(x + 0.5);
}

// Attributes of a customer drawn from its own profile stream, so the
// registration and later profile updates agree.
struct Basics {
  v1::RelationshipType relationship;
  v1::Ownership ownership;
  v1::BusinessNature nature;
  v1::LocationType location;
  v1::IndustryPosition position;
  int region;
  int industry;
  int manager;
  int birth_year;  // 0 = unknown
  int birth_month;
  int birth_day;
};

Rng ProfileRng(uint64_t seed, uint32_t index) {
  return Rng(Mix64(Mix64(seed ^ 0x70726f66696c65ULL) + index));
}

// `year`: the first year of the history; people are 18..80 years old then,
// firms founded up to 70 years before.
Basics DrawBasics(Rng& rng, int managers, int year) {
  Basics b;
  static constexpr int kRel[] = {55, 30, 10, 5};
  b.relationship = static_cast<v1::RelationshipType>(1 + rng.Weighted(kRel));
  if (b.relationship == v1::RELATIONSHIP_TYPE_CONSUMER) {
    b.ownership =
        rng.Bernoulli(0.97) ? v1::OWNERSHIP_PRIVATE : v1::OWNERSHIP_COLLECTIVE;
    static constexpr int kNature[] = {2, 70, 1, 5, 10, 12};
    b.nature = static_cast<v1::BusinessNature>(1 + rng.Weighted(kNature));
    static constexpr int kLoc[] = {15, 10, 65, 10};
    b.location = static_cast<v1::LocationType>(1 + rng.Weighted(kLoc));
    b.position = v1::INDUSTRY_POSITION_UNSPECIFIED;
  } else {
    static constexpr int kOwn[] = {8, 5, 45, 22, 8, 12};
    b.ownership = static_cast<v1::Ownership>(1 + rng.Weighted(kOwn));
    static constexpr int kNatureB2b[] = {25, 25, 8, 12, 15, 15};
    static constexpr int kNatureAgent[] = {50, 5, 35, 5, 3, 2};
    b.nature = static_cast<v1::BusinessNature>(
        1 + (b.relationship == v1::RELATIONSHIP_TYPE_DISTRIBUTOR_AGENT
                 ? rng.Weighted(kNatureAgent)
                 : rng.Weighted(kNatureB2b)));
    static constexpr int kLoc[] = {40, 15, 15, 30};
    b.location = static_cast<v1::LocationType>(1 + rng.Weighted(kLoc));
    static constexpr int kPos[] = {5, 20, 50, 25};
    b.position = static_cast<v1::IndustryPosition>(1 + rng.Weighted(kPos));
  }
  static constexpr int kRegionW[] = {18, 16, 15, 14, 14, 9, 9, 5};
  b.region = rng.Weighted(kRegionW);
  b.industry = static_cast<int>(rng.Uniform(Count(kIndustries)));
  // Managers are grouped by region when there are enough of them.
  if (managers >= kNumRegions) {
    const int per = managers / kNumRegions;
    b.manager = b.region * per + static_cast<int>(rng.Uniform(per));
  } else {
    b.manager = static_cast<int>(rng.Uniform(managers));
  }
  if (b.relationship == v1::RELATIONSHIP_TYPE_CONSUMER) {
    b.birth_year =
        rng.Bernoulli(0.1)
            ? 0
            : static_cast<int>(rng.Range(std::max(1900, year - 80), year - 18));
  } else {
    b.birth_year =
        static_cast<int>(rng.Range(std::max(1900, year - 70), year - 1));
  }
  b.birth_month = static_cast<int>(rng.Range(1, 12));
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  b.birth_day = static_cast<int>(rng.Range(1, kDays[b.birth_month - 1]));
  return b;
}

}  // namespace

absl::Status ValidateOptions(const GeneratorOptions& o) {
  if (o.customers < 1 || o.customers > kMaxCustomers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "customers: must be in 1..", kMaxCustomers, ", got ", o.customers));
  }
  if (o.months < 1 || o.months > kMaxMonths) {
    return absl::InvalidArgumentError(
        absl::StrCat("months: must be in 1..", kMaxMonths, ", got ", o.months));
  }
  if (o.account_managers < 1 || o.account_managers > 999) {
    return absl::InvalidArgumentError(absl::StrCat(
        "account_managers: must be in 1..999, got ", o.account_managers));
  }
  if (o.currency.size() != 3 ||
      !std::all_of(o.currency.begin(), o.currency.end(),
                   [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "currency: must be three upper-case letters (ISO 4217), got \"",
        o.currency, "\""));
  }
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time lo = absl::FromCivil(absl::CivilSecond(1970, 1, 1), utc);
  const absl::Time hi = absl::FromCivil(absl::CivilSecond(2099, 12, 1), utc);
  if (o.start < lo || absl::ToUnixNanos(o.start) % 1000000000 != 0) {
    return absl::InvalidArgumentError(
        "start: must be a whole second at or after 1970-01-01T00:00:00Z");
  }
  const absl::CivilSecond s = absl::ToCivilSecond(o.start, utc);
  const absl::Time end =
      absl::FromCivil(absl::CivilSecond(s.year(), s.month() + o.months, s.day(),
                                        s.hour(), s.minute(), s.second()),
                      utc);
  if (end > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("start + months: must end by 2099-12-01, ends ",
                     absl::FormatTime(end)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Generator>> Generator::Create(
    const GeneratorOptions& options) {
  absl::Status s = ValidateOptions(options);
  if (!s.ok()) return s;
  return std::unique_ptr<Generator>(new Generator(options));
}

Generator::~Generator() = default;

Generator::Generator(const GeneratorOptions& options) : options_(options) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilSecond s = absl::ToCivilSecond(options_.start, utc);
  end_ = absl::FromCivil(
      absl::CivilSecond(s.year(), s.month() + options_.months, s.day(),
                        s.hour(), s.minute(), s.second()),
      utc);
  start_unix_ = absl::ToUnixSeconds(options_.start);
  start_tod_ = s.hour() * kHour + s.minute() * 60 + s.second();
  start_year_ = static_cast<int>(s.year());
  window_seconds_ = absl::ToUnixSeconds(end_) - start_unix_;
  num_days_ = (window_seconds_ + kDay - 1) / kDay;

  id_prefix_ = absl::StrFormat(
      "g%08x-", static_cast<uint32_t>(Mix64(options_.seed) >> 32));

  day_season_.resize(num_days_);
  day_month_.resize(num_days_);
  day_civil_.resize(num_days_);
  for (int64_t d = 0; d < num_days_; ++d) {
    const absl::CivilDay cd =
        absl::ToCivilDay(options_.start + absl::Seconds(d * kDay), utc);
    day_civil_[d] = cd;
    day_month_[d] = cd.month();
    day_season_[d] = kSeason[cd.month() - 1];
  }

  // Registration days: 40% of the base is already a customer and is
  // imported during the first 30 days; the rest arrives with seasonality.
  const int64_t n = options_.customers;
  const int64_t import_days = std::min<int64_t>(30, num_days_);
  const double import_share = options_.months >= 2 ? 0.4 : 0.0;
  double season_total = 0;
  for (int64_t d = 0; d < num_days_; ++d) season_total += day_season_[d];
  first_index_of_day_.resize(num_days_ + 1);
  double cum = 0;
  for (int64_t d = 0; d < num_days_; ++d) {
    first_index_of_day_[d] = static_cast<int64_t>(cum * n + 0.5);
    cum += (1.0 - import_share) * day_season_[d] / season_total;
    if (d < import_days) cum += import_share / import_days;
  }
  first_index_of_day_[num_days_] = n;
  for (int64_t d = 0; d <= num_days_; ++d) {
    first_index_of_day_[d] = std::min(first_index_of_day_[d], n);
  }

  buckets_.resize(num_days_);

  for (int i = 1; i <= options_.account_managers; ++i) {
    std::string m = "am-";
    AppendPadded(&m, i, 3);
    managers_.push_back(std::move(m));
  }
  for (int i = 1; i <= kAgents; ++i) {
    std::string a = "cc-agent-";
    AppendPadded(&a, i, 2);
    agents_.push_back(std::move(a));
  }
  for (int r = 0; r < kNumRegions; ++r) {
    for (int i = 1; i <= kTillsPerRegion; ++i) {
      std::string t = absl::StrCat("till-", kRegions[r], "-");
      AppendPadded(&t, i, 2);
      tills_.push_back(std::move(t));
    }
  }
}

// ---------------------------------------------------------------------------
// Calendar queue
// ---------------------------------------------------------------------------

void Generator::Schedule(Pending p) {
  int64_t t = p.time();
  if (t <= now_) t = now_ + 1;  // effects strictly after their cause
  if (t >= window_seconds_) return;
  p.key = (static_cast<uint64_t>(t) << 32) | (seq_++ & 0xffffffffULL);
  const int64_t day = t / kDay;
  ++pending_;
  stats_.peak_pending = std::max(stats_.peak_pending, pending_);
  if (day <= day_) {
    today_.push_back(p);
    // While a day is being opened, today_ is not a heap yet (AdvanceDay
    // makes it one after admitting that day's customers).
    if (!opening_day_) {
      std::push_heap(today_.begin(), today_.end(), internal::PendingLater());
    }
  } else {
    buckets_[day].push_back(p);
  }
}

namespace {
Pending At(int64_t t, uint32_t customer, uint8_t task) {
  Pending p;
  p.key = static_cast<uint64_t>(t) << 32;
  p.customer = customer;
  p.task = task;
  return p;
}
}  // namespace

bool Generator::AdvanceDay() {
  while (day_ + 1 < num_days_) {
    ++day_;
    today_.clear();
    today_.swap(buckets_[day_]);
    std::vector<Pending>().swap(buckets_[day_]);
    opening_day_ = true;
    const int64_t first = first_index_of_day_[day_];
    const int64_t last = first_index_of_day_[day_ + 1];
    for (int64_t i = std::max(first, next_admit_); i < last; ++i)
      Admit(i, day_);
    next_admit_ = std::max(next_admit_, last);
    opening_day_ = false;
    std::make_heap(today_.begin(), today_.end(), internal::PendingLater());
    if (!today_.empty()) return true;
  }
  return false;
}

void Generator::Admit(int64_t index, int64_t day) {
  const uint32_t idx = static_cast<uint32_t>(index);
  Rng prng = ProfileRng(options_.seed, idx);
  const Basics b = DrawBasics(prng, options_.account_managers, start_year_);

  // Fixed-size chunks: memory grows with the customers admitted, and a
  // Customer never moves.
  if ((index & (kChunk - 1)) == 0) {
    customers_.push_back(std::make_unique<Customer[]>(kChunk));
  }
  Customer& c = customers_[index / kChunk][index & (kChunk - 1)];
  c.rng = Rng(Mix64(Mix64(options_.seed) + idx));
  Rng& rng = c.rng;
  c.relationship = static_cast<uint8_t>(b.relationship);
  c.region = static_cast<uint8_t>(b.region);
  c.manager = static_cast<uint16_t>(b.manager);
  c.birth_month = static_cast<uint8_t>(b.birth_month);
  c.birth_day = static_cast<uint8_t>(b.birth_day);
  c.churn_at = kNever;
  c.winback_at = kNever;
  c.last_complaint = -kNever;
  c.satisfaction =
      static_cast<float>(0.45 + 0.5 * (1.0 - rng.Double() * rng.Double()));

  const bool consumer = b.relationship == v1::RELATIONSHIP_TYPE_CONSUMER;
  switch (b.relationship) {
    case v1::RELATIONSHIP_TYPE_CONSUMER: {
      static constexpr int kArch[] = {70, 22, 8};
      c.archetype = static_cast<uint8_t>(rng.Weighted(kArch));
      c.order_value =
          static_cast<float>(2300 * std::min(100.0, rng.Pareto(1, 2.5)));
      c.order_rate = static_cast<float>(0.25 / 30 * rng.Gamma(0.5) / 0.5);
      if (rng.Bernoulli(0.02)) c.flags |= internal::kBzc;
      break;
    }
    case v1::RELATIONSHIP_TYPE_BUSINESS: {
      static constexpr int kArch[] = {62, 25, 13};
      c.archetype = static_cast<uint8_t>(rng.Weighted(kArch));
      c.order_value =
          static_cast<float>(30000 * std::min(200.0, rng.Pareto(1, 1.8)));
      c.order_rate = static_cast<float>(1.0 / 30 * rng.Gamma(1.5) / 1.5);
      break;
    }
    case v1::RELATIONSHIP_TYPE_DISTRIBUTOR_AGENT: {
      static constexpr int kArch[] = {75, 12, 13};
      c.archetype = static_cast<uint8_t>(rng.Weighted(kArch));
      c.order_value =
          static_cast<float>(80000 * std::min(200.0, rng.Pareto(1, 1.7)));
      c.order_rate = static_cast<float>(2.5 / 30 * rng.Gamma(2.0) / 2.0);
      break;
    }
    default: {
      c.archetype = internal::kBuyer;
      c.order_value =
          static_cast<float>(40000 * std::min(50.0, rng.Pareto(1, 2.0)));
      c.order_rate = static_cast<float>(1.0 / 30);
      break;
    }
  }
  if (!consumer) {
    if (rng.Bernoulli(0.25)) {
      c.flags |= internal::kKey;
      c.order_value *= 2.5f;
    }
    if (rng.Bernoulli(0.12)) c.flags |= internal::kLatePayer;
    if (rng.Bernoulli(0.06)) c.flags |= internal::kBzc;
  } else if (c.order_value > 15000) {
    c.flags |= internal::kKey;  // consumer VIPs get greeting visits too
  }

  // Registration channel: the imported base arrives through the API.
  v1::Channel ch;
  if (day < 30 && options_.months >= 2 &&
      index < static_cast<int64_t>(0.4 * options_.customers)) {
    ch = v1::CHANNEL_API;
  } else if (consumer) {
    static constexpr int kW[] = {45, 45, 10};
    static constexpr v1::Channel kCh[] = {v1::CHANNEL_STORE, v1::CHANNEL_WEB,
                                          v1::CHANNEL_CALL_CENTRE};
    ch = kCh[rng.Weighted(kW)];
  } else {
    static constexpr int kW[] = {50, 20, 15, 15};
    static constexpr v1::Channel kCh[] = {
        v1::CHANNEL_FIELD_SALES, v1::CHANNEL_WEB, v1::CHANNEL_CALL_CENTRE,
        v1::CHANNEL_ERP};
    ch = kCh[rng.Weighted(kW)];
  }
  Pending p = At(TimeOnDay(day, ch, rng), idx, internal::kRegister);
  p.arg = static_cast<uint8_t>(ch);
  Schedule(p);
  ++stats_.customers_registered;
}

bool Generator::Next(v1::Envelope* event) {
  for (;;) {
    if (today_.empty()) {
      if (!AdvanceDay()) return false;
      continue;
    }
    std::pop_heap(today_.begin(), today_.end(), internal::PendingLater());
    const Pending p = today_.back();
    today_.pop_back();
    --pending_;
    now_ = p.time();
    if (Handle(p, event)) {
      ++stats_.events;
      ++stats_.events_by_body[event->body_case() & 31];
      return true;
    }
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

double Generator::Season(int64_t seconds) const {
  const int64_t d = seconds / kDay;
  return d < num_days_ ? day_season_[d] : 1.0;
}

int64_t Generator::TimeOnDay(int64_t day, v1::Channel channel, Rng& rng) const {
  int64_t lo = 0;
  int64_t span = 24 * kHour;
  switch (channel) {
    case v1::CHANNEL_FIELD_SALES:
      lo = 8 * kHour, span = 9 * kHour;
      break;
    case v1::CHANNEL_CALL_CENTRE:
      lo = 8 * kHour, span = 12 * kHour;
      break;
    case v1::CHANNEL_STORE:
      lo = 9 * kHour, span = 12 * kHour;
      break;
    case v1::CHANNEL_WEB:
      if (rng.Bernoulli(0.5)) {
        lo = 18 * kHour, span = 5 * kHour;  // evening peak
      } else {
        lo = 7 * kHour, span = 17 * kHour;
      }
      break;
    case v1::CHANNEL_ERP:
      lo = 8 * kHour, span = 10 * kHour;
      break;
    case v1::CHANNEL_EMAIL:
      lo = 7 * kHour, span = 16 * kHour;
      break;
    default:
      break;
  }
  const int64_t tod = lo + static_cast<int64_t>(rng.Uniform(span));
  const int64_t off = ((tod - start_tod_) % kDay + kDay) % kDay;
  return day * kDay + off;
}

int64_t Generator::LaterOnDay(int64_t after, int64_t days, v1::Channel channel,
                              Rng& rng) const {
  int64_t t = TimeOnDay(after / kDay + days, channel, rng);
  if (t <= after) t = after + 60 + static_cast<int64_t>(rng.Uniform(3600));
  return t;
}

// Next purchase of a Poisson process with seasonal intensity (thinning).
int64_t Generator::NextOrderTime(Customer& c, int64_t from) const {
  const double rate = std::max(1e-5, static_cast<double>(c.order_rate));
  double t = static_cast<double>(from);
  for (int i = 0; i < 1000; ++i) {
    t += c.rng.Exponential(kDay / (rate * kMaxSeason));
    if (t >= static_cast<double>(window_seconds_)) break;
    if (c.rng.Double() * kMaxSeason < Season(static_cast<int64_t>(t))) break;
  }
  if (t >= static_cast<double>(window_seconds_)) return window_seconds_;
  return static_cast<int64_t>(t);
}

void Generator::SetMoney(v1::Money* m, int64_t minor_units) const {
  m->set_minor_units(minor_units);
  m->set_currency(options_.currency);
}

void Generator::SetTime(google::protobuf::Timestamp* ts,
                        int64_t seconds) const {
  ts->set_seconds(start_unix_ + seconds);
}

const std::string& Generator::Actor(const Customer& c, v1::Channel channel,
                                    Rng& rng) const {
  switch (channel) {
    case v1::CHANNEL_FIELD_SALES:
      return managers_[c.manager];
    case v1::CHANNEL_CALL_CENTRE:
      return agents_[rng.Uniform(agents_.size())];
    case v1::CHANNEL_STORE:
      return tills_[c.region * kTillsPerRegion + rng.Uniform(kTillsPerRegion)];
    default:
      break;
  }
  return managers_[c.manager];  // not used for the system channels
}

v1::Channel Generator::OrderChannel(const Customer& c, Rng& rng) const {
  switch (c.relationship) {
    case v1::RELATIONSHIP_TYPE_CONSUMER: {
      static constexpr int kW[] = {50, 45, 5};
      static constexpr v1::Channel kCh[] = {v1::CHANNEL_STORE, v1::CHANNEL_WEB,
                                            v1::CHANNEL_CALL_CENTRE};
      return kCh[rng.Weighted(kW)];
    }
    case v1::RELATIONSHIP_TYPE_BUSINESS: {
      static constexpr int kW[] = {45, 30, 15, 10};
      static constexpr v1::Channel kCh[] = {
          v1::CHANNEL_ERP, v1::CHANNEL_FIELD_SALES, v1::CHANNEL_WEB,
          v1::CHANNEL_CALL_CENTRE};
      return kCh[rng.Weighted(kW)];
    }
    case v1::RELATIONSHIP_TYPE_DISTRIBUTOR_AGENT: {
      static constexpr int kW[] = {60, 20, 20};
      static constexpr v1::Channel kCh[] = {
          v1::CHANNEL_ERP, v1::CHANNEL_FIELD_SALES, v1::CHANNEL_API};
      return kCh[rng.Weighted(kW)];
    }
    default:
      return rng.Bernoulli(0.6) ? v1::CHANNEL_API : v1::CHANNEL_ERP;
  }
}

v1::Envelope* Generator::Begin(Customer& c, uint32_t index, v1::Channel channel,
                               const std::string& actor, v1::Envelope* event) {
  event->Clear();
  std::string* id = event->mutable_event_id();
  id->assign(id_prefix_);
  std::string* cid = event->mutable_customer_id();
  cid->push_back('C');
  AppendPadded(cid, index + 1, 7);
  id->append(*cid);
  id->push_back('-');
  AppendPadded(id, ++c.events, 5);
  SetTime(event->mutable_occurred_at(), now_);
  int64_t delay = 0;
  switch (channel) {
    case v1::CHANNEL_ERP:
      delay = 2 * kHour + static_cast<int64_t>(c.rng.Uniform(18 * kHour));
      break;
    case v1::CHANNEL_FIELD_SALES:
      delay = static_cast<int64_t>(c.rng.Uniform(4 * kHour));
      break;
    case v1::CHANNEL_CALL_CENTRE:
      delay = 30 + static_cast<int64_t>(c.rng.Uniform(600));
      break;
    default:
      delay = static_cast<int64_t>(c.rng.Uniform(5));
      break;
  }
  SetTime(event->mutable_recorded_at(), now_ + delay);
  event->set_channel(channel);
  switch (channel) {
    case v1::CHANNEL_WEB:
      event->set_actor("web-shop");
      break;
    case v1::CHANNEL_ERP:
      event->set_actor("erp-export");
      break;
    case v1::CHANNEL_EMAIL:
      event->set_actor("survey-tool");
      break;
    case v1::CHANNEL_API:
      event->set_actor("crm-api");
      break;
    default:
      event->set_actor(actor);
      break;
  }
  event->set_schema_version(1);
  return event;
}

void Generator::FillContacts(uint32_t index, v1::CustomerProfile* profile,
                             Rng& rng) {
  const bool consumer =
      profile->relationship_type() == v1::RELATIONSHIP_TYPE_CONSUMER;
  const int n = consumer ? 1 : static_cast<int>(rng.Range(1, 3));
  for (int i = 0; i < n; ++i) {
    v1::Contact* ct = profile->add_contacts();
    std::string first = Pick(kFirstNames, rng);
    std::string last = Pick(kLastNames, rng);
    if (consumer) {
      // A consumer is its own contact.
      Rng prng = ProfileRng(options_.seed, index);
      DrawBasics(prng, options_.account_managers, start_year_);
      first = Pick(kFirstNames, prng);
      last = Pick(kLastNames, prng);
    }
    ct->set_name(absl::StrCat(first, " ", last));
    if (!consumer) ct->set_role(Pick(kRoles, rng));
    std::string phone = "+1 555 ";
    AppendPadded(&phone, rng.Uniform(10000), 4);
    phone.push_back(' ');
    AppendPadded(&phone, rng.Uniform(1000), 3);
    ct->set_phone(std::move(phone));
    if (rng.Bernoulli(0.85)) {
      std::string email = absl::AsciiStrToLower(absl::StrCat(first, ".", last));
      email.append("@c");
      AppendPadded(&email, index + 1, 7);
      email.append(consumer ? ".mail.example" : ".example");
      ct->set_email(std::move(email));
    }
  }
}

void Generator::FillProfile(uint32_t index, v1::CustomerProfile* profile,
                            Rng& rng) {
  Rng prng = ProfileRng(options_.seed, index);
  const Basics b = DrawBasics(prng, options_.account_managers, start_year_);
  profile->set_relationship_type(b.relationship);
  // One draw per statement: argument evaluation order is unspecified.
  const char* w1 = b.relationship == v1::RELATIONSHIP_TYPE_CONSUMER
                       ? Pick(kFirstNames, prng)
                       : Pick(kCompanyWords, prng);
  const char* w2 = b.relationship == v1::RELATIONSHIP_TYPE_CONSUMER
                       ? Pick(kLastNames, prng)
                       : Pick(kCompanyTrades, prng);
  if (b.relationship == v1::RELATIONSHIP_TYPE_CONSUMER) {
    profile->set_name(absl::StrCat(w1, " ", w2));
  } else if (b.relationship == v1::RELATIONSHIP_TYPE_INTERNAL) {
    profile->set_name(absl::StrCat("Internal ", kRegions[b.region], " ", w2));
  } else {
    const char* w3 = Pick(kCompanySuffixes, prng);
    profile->set_name(absl::StrCat(w1, " ", w2, " ", w3));
  }
  profile->set_ownership(b.ownership);
  profile->set_business_nature(b.nature);
  profile->set_location_type(b.location);
  profile->set_region(kRegions[b.region]);
  profile->set_industry(b.relationship == v1::RELATIONSHIP_TYPE_CONSUMER
                            ? "households"
                            : kIndustries[b.industry]);
  profile->set_account_manager(managers_[b.manager]);
  v1::Date* bd = profile->mutable_birthday();
  if (b.birth_year != 0) bd->set_year(b.birth_year);
  bd->set_month(b.birth_month);
  bd->set_day(b.birth_day);
  if (b.position != v1::INDUSTRY_POSITION_UNSPECIFIED) {
    profile->set_industry_position(b.position);
  }
  FillContacts(index, profile, rng);
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

bool Generator::Handle(const Pending& p, v1::Envelope* event) {
  Customer& c = customers_[p.customer / kChunk][p.customer & (kChunk - 1)];
  switch (p.task) {
    case internal::kRegister:
      return HandleRegister(c, p, event);
    case internal::kOrderStream:
      return HandleOrderStream(c, p, event);
    case internal::kTouchStream:
      return HandleTouchStream(c, p, event);
    case internal::kMiscStream:
      return HandleMiscStream(c, p, event);
    case internal::kPayment:
      return HandlePayment(c, p, event);
    case internal::kCancel:
      return HandleCancel(c, p, event);
    case internal::kReturn:
      return HandleReturn(c, p, event);
    case internal::kComplaintOpen:
      return HandleComplaintOpen(c, p, event);
    case internal::kComplaintResolve:
      return HandleComplaintResolve(c, p, event);
    case internal::kSurvey:
      return HandleSurvey(c, p, event);
    case internal::kLead:
      return HandleLead(c, p, event);
    case internal::kOpportunity:
      return HandleOpportunity(c, p, event);
    case internal::kHolidayVisit:
    case internal::kBirthdayVisit:
      return HandleGreetingVisit(c, p, event);
    case internal::kWinBack:
      return HandleWinBack(c, p, event);
    default:
      return false;
  }
}

namespace {

bool IsConsumer(const Customer& c) {
  return c.relationship == v1::RELATIONSHIP_TYPE_CONSUMER;
}

// Mean days between touches (visits and calls).
double TouchGapDays(const Customer& c) {
  double gap;
  if (!(c.flags & internal::kBuying) && c.archetype != internal::kBuyer) {
    gap = 14;  // prospects are worked on
  } else {
    switch (c.relationship) {
      case v1::RELATIONSHIP_TYPE_CONSUMER:
        gap = 110;
        break;
      case v1::RELATIONSHIP_TYPE_BUSINESS:
        gap = (c.flags & internal::kKey) ? 18 : 40;
        break;
      case v1::RELATIONSHIP_TYPE_DISTRIBUTOR_AGENT:
        gap = 30;
        break;
      default:
        gap = 90;
        break;
    }
  }
  if (c.flags & internal::kChurned) gap *= 2.5;
  return gap;
}

}  // namespace

// Starts ordering at `first` and decides whether and when the customer
// will churn and come back.
static void PlanLife(Customer& c, int64_t first) {
  c.flags |= internal::kBuying;
  double p_churn;
  switch (c.relationship) {
    case v1::RELATIONSHIP_TYPE_CONSUMER:
      p_churn = 0.45;
      break;
    case v1::RELATIONSHIP_TYPE_BUSINESS:
      p_churn = 0.25;
      break;
    case v1::RELATIONSHIP_TYPE_DISTRIBUTOR_AGENT:
      p_churn = 0.2;
      break;
    default:
      p_churn = 0.02;
      break;
  }
  if (c.rng.Bernoulli(p_churn)) {
    c.churn_at = first + static_cast<int64_t>(c.rng.Exponential(240.0 * kDay));
    if (c.rng.Bernoulli(0.35)) {
      c.winback_at = c.churn_at + 120 * kDay +
                     static_cast<int64_t>(c.rng.Exponential(120.0 * kDay));
    }
  }
}

bool Generator::HandleRegister(Customer& c, const Pending& p,
                               v1::Envelope* event) {
  const auto ch = static_cast<v1::Channel>(p.arg);
  Rng& rng = c.rng;
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  FillProfile(p.customer,
              event->mutable_customer_registered()->mutable_profile(), rng);

  const bool consumer = IsConsumer(c);
  if (c.archetype == internal::kBuyer) {
    int64_t first;
    if (consumer && ch == v1::CHANNEL_STORE && rng.Bernoulli(0.4)) {
      first = now_ + 60 + static_cast<int64_t>(rng.Uniform(900));  // same visit
    } else {
      const double mean = consumer ? 6.0 : 12.0;
      first = LaterOnDay(now_, static_cast<int64_t>(rng.Exponential(mean)),
                         v1::CHANNEL_ERP, rng);
    }
    PlanLife(c, first);
    Pending o = At(first, p.customer, internal::kOrderStream);
    o.arg = static_cast<uint8_t>(consumer && ch == v1::CHANNEL_STORE
                                     ? v1::CHANNEL_STORE
                                     : OrderChannel(c, rng));
    Schedule(o);
  } else {
    const double p_lead = c.archetype == internal::kProspectWon ? 1.0 : 0.8;
    if (rng.Bernoulli(p_lead)) {
      Schedule(
          At(now_ + 3600 + static_cast<int64_t>(rng.Exponential(7.0 * kDay)),
             p.customer, internal::kLead));
    }
  }
  Schedule(
      At(now_ + static_cast<int64_t>(rng.Exponential(TouchGapDays(c) * kDay)),
         p.customer, internal::kTouchStream));
  Schedule(At(now_ + static_cast<int64_t>(
                         rng.Exponential((consumer ? 150.0 : 70.0) * kDay)),
              p.customer, internal::kMiscStream));
  if (c.flags & internal::kKey) {
    Schedule(At(now_ + kDay, p.customer, internal::kHolidayVisit));
    Schedule(At(now_ + kDay, p.customer, internal::kBirthdayVisit));
  }
  return true;
}

bool Generator::HandleOrderStream(Customer& c, const Pending& p,
                                  v1::Envelope* event) {
  Rng& rng = c.rng;
  if (now_ >= c.churn_at) {
    // The customer has quietly stopped buying.
    c.flags |= internal::kChurned;
    if (c.winback_at < kNever) {
      Schedule(At(c.winback_at, p.customer, internal::kWinBack));
    }
    return false;
  }
  const auto ch = static_cast<v1::Channel>(p.arg);
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::OrderPlaced* o = event->mutable_order_placed();
  const uint32_t order_no = ++c.orders;
  std::string* oid = o->mutable_order_id();
  oid->assign(event->customer_id());
  oid->append("-O");
  AppendPadded(oid, order_no, 4);

  const bool consumer = IsConsumer(c);
  const bool bzc = c.flags & internal::kBzc;
  const double basket = day_month_[now_ / kDay] == 12 ? 1.1 : 1.0;
  const int64_t amount = std::max<int64_t>(
      100, ToMinor(c.order_value * basket * rng.LogNormal(-0.18, 0.6)));
  SetMoney(o->mutable_amount(), amount);
  double margin =
      bzc ? -0.05 + 0.13 * rng.Double() : 0.12 + 0.33 * rng.Double();
  SetMoney(o->mutable_gross_profit(),
           static_cast<int64_t>(static_cast<double>(amount) * margin));
  double disc = 0;
  if (bzc) {
    disc = 0.2 + 0.2 * rng.Double();
  } else if (rng.Bernoulli(0.5)) {
    disc = 0.02 + 0.10 * rng.Double();
  }
  if (disc > 0) {
    SetMoney(o->mutable_discount(),
             ToMinor(static_cast<double>(amount) * disc / (1 - disc)));
  }
  double fin = 0;
  if (bzc) {
    fin = 0.03 + 0.05 * rng.Double();
  } else if (!consumer) {
    fin = 0.015 * rng.Double();
  } else if (ch == v1::CHANNEL_WEB && rng.Bernoulli(0.05)) {
    fin = 0.04;  // instalment plan
  }
  if (fin > 0) {
    SetMoney(o->mutable_financing_cost(),
             ToMinor(static_cast<double>(amount) * fin));
  }
  uint32_t qty;
  switch (c.relationship) {
    case v1::RELATIONSHIP_TYPE_CONSUMER:
      qty =
          1 + (rng.Bernoulli(0.4) ? static_cast<uint32_t>(rng.Range(1, 4)) : 0);
      break;
    case v1::RELATIONSHIP_TYPE_DISTRIBUTOR_AGENT:
      qty = static_cast<uint32_t>(rng.Range(10, 500));
      break;
    default:
      qty = static_cast<uint32_t>(rng.Range(1, 50)) *
            ((c.flags & internal::kKey) ? 3 : 1);
      break;
  }
  o->set_quantity(qty);
  o->set_product_category(Pick(kCategories, rng));

  // Follow-ups: cancellation, or payment (and perhaps a return, a
  // complaint, a survey).
  if (rng.Bernoulli(0.04)) {
    Pending x = At(now_ + 600 + static_cast<int64_t>(rng.Uniform(3 * kDay)),
                   p.customer, internal::kCancel);
    x.ref = order_no;
    x.arg = static_cast<uint8_t>(
        ch == v1::CHANNEL_STORE ? v1::CHANNEL_CALL_CENTRE : ch);
    Schedule(x);
  } else {
    c.outstanding += amount;
    Pending pay = At(0, p.customer, internal::kPayment);
    pay.ref = order_no;
    pay.amount = amount;
    if (consumer) {
      pay.key = static_cast<uint64_t>(now_ + 5 +
                                      static_cast<int64_t>(rng.Uniform(120)))
                << 32;
      pay.arg2 = 0;
      pay.arg = static_cast<uint8_t>(ch == v1::CHANNEL_STORE ? kPayAtStore
                                                             : kPayOnline);
      Schedule(pay);
    } else {
      const bool late = c.flags & internal::kLatePayer;
      const double p_never = late ? 0.05 : 0.008;
      if (!rng.Bernoulli(p_never)) {
        const int64_t terms =
            c.relationship == v1::RELATIONSHIP_TYPE_DISTRIBUTOR_AGENT ? 45 : 30;
        int64_t days_late = 0;
        if (late) {
          days_late = std::min<int64_t>(
              365, 10 + static_cast<int64_t>(rng.Exponential(35)));
        } else if (rng.Bernoulli(0.22)) {
          days_late = rng.Range(1, 12);
        }
        pay.arg2 = static_cast<uint16_t>(days_late);
        pay.arg = rng.Bernoulli(0.1) ? kPayFirstInstalment : 0;
        pay.key = static_cast<uint64_t>(
                      LaterOnDay(now_, terms + days_late, v1::CHANNEL_ERP, rng))
                  << 32;
        Schedule(pay);
      }
    }
    if (rng.Bernoulli(consumer ? 0.07 : 0.03)) {
      Pending r =
          At(LaterOnDay(now_, rng.Range(2, 30),
                        consumer ? v1::CHANNEL_STORE : v1::CHANNEL_ERP, rng),
             p.customer, internal::kReturn);
      r.ref = order_no;
      r.amount = amount;
      r.arg2 = static_cast<uint16_t>(std::min<uint32_t>(qty, 65535));
      Schedule(r);
    }
  }
  if (rng.Bernoulli(0.03)) {
    Pending k = At(now_ + kHour + static_cast<int64_t>(rng.Uniform(14 * kDay)),
                   p.customer, internal::kComplaintOpen);
    k.arg = 1;  // about an order
    Schedule(k);
  }
  if (rng.Bernoulli(0.08)) {
    Pending s = At(now_ + kHour + static_cast<int64_t>(rng.Uniform(7 * kDay)),
                   p.customer, internal::kSurvey);
    s.arg = 0;  // post-order
    s.ref = order_no;
    Schedule(s);
  }

  // The next order.
  const v1::Channel next_ch = OrderChannel(c, rng);
  int64_t next = NextOrderTime(c, now_);
  next = std::min(next, std::max(c.churn_at, now_ + 1));
  if (next < window_seconds_) {
    next = std::max(next, now_ + 1);
    const int64_t day = next / kDay;
    int64_t t = TimeOnDay(day, next_ch, rng);
    if (t <= now_) t = next;
    Pending n = At(t, p.customer, internal::kOrderStream);
    n.arg = static_cast<uint8_t>(next_ch);
    Schedule(n);
  }
  return true;
}

bool Generator::HandleWinBack(Customer& c, const Pending& p,
                              v1::Envelope* event) {
  Rng& rng = c.rng;
  c.flags = static_cast<uint8_t>((c.flags & ~internal::kChurned) |
                                 internal::kWonBack);
  c.churn_at = kNever;
  c.winback_at = kNever;
  if (IsConsumer(c)) {
    Begin(c, p.customer, v1::CHANNEL_CALL_CENTRE,
          Actor(c, v1::CHANNEL_CALL_CENTRE, rng), event);
    v1::CallLogged* call = event->mutable_call_logged();
    call->set_direction(v1::CALL_DIRECTION_OUTBOUND);
    call->set_outcome(v1::CALL_OUTCOME_CONNECTED);
    call->set_duration_seconds(static_cast<uint32_t>(rng.Range(120, 900)));
  } else {
    Begin(c, p.customer, v1::CHANNEL_FIELD_SALES,
          Actor(c, v1::CHANNEL_FIELD_SALES, rng), event);
    v1::VisitLogged* v = event->mutable_visit_logged();
    v->set_kind(v1::VISIT_KIND_ON_SITE);
    v->set_duration_minutes(static_cast<uint32_t>(rng.Range(30, 120)));
    v->set_notes("win-back visit: offered returning-customer terms");
  }
  Pending o = At(LaterOnDay(now_, rng.Range(1, 10), v1::CHANNEL_ERP, rng),
                 p.customer, internal::kOrderStream);
  o.arg = static_cast<uint8_t>(OrderChannel(c, rng));
  Schedule(o);
  return true;
}

bool Generator::HandlePayment(Customer& c, const Pending& p,
                              v1::Envelope* event) {
  Rng& rng = c.rng;
  const bool consumer = IsConsumer(c);
  v1::Channel ch = v1::CHANNEL_ERP;
  if (consumer) {
    ch = p.arg == kPayAtStore ? v1::CHANNEL_STORE : v1::CHANNEL_WEB;
  }
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::PaymentReceived* pay = event->mutable_payment_received();
  std::string* inv = pay->mutable_invoice_id();
  inv->assign(event->customer_id());
  inv->append("-O");
  AppendPadded(inv, p.ref, 4);
  int64_t part = p.amount;
  if (p.arg == kPayFirstInstalment) {
    part = std::max<int64_t>(
        1, static_cast<int64_t>(static_cast<double>(p.amount) *
                                (0.4 + 0.3 * rng.Double())));
    if (part >= p.amount) part = p.amount - 1;
    const int64_t gap = rng.Range(15, 45);
    Pending rest = At(LaterOnDay(now_, gap, v1::CHANNEL_ERP, rng), p.customer,
                      internal::kPayment);
    rest.ref = p.ref;
    rest.amount = p.amount - part;
    rest.arg = 0;
    rest.arg2 = static_cast<uint16_t>(std::min<int64_t>(3650, p.arg2 + gap));
    Schedule(rest);
  }
  c.outstanding = std::max<int64_t>(0, c.outstanding - part);
  SetMoney(pay->mutable_amount(), part);
  pay->set_days_late(p.arg2);
  SetMoney(pay->mutable_outstanding(), c.outstanding);
  return true;
}

bool Generator::HandleCancel(Customer& c, const Pending& p,
                             v1::Envelope* event) {
  Rng& rng = c.rng;
  const auto ch = static_cast<v1::Channel>(p.arg);
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::OrderCancelled* x = event->mutable_order_cancelled();
  std::string* oid = x->mutable_order_id();
  oid->assign(event->customer_id());
  oid->append("-O");
  AppendPadded(oid, p.ref, 4);
  x->set_reason(Pick(kCancelReasons, rng));
  return true;
}

bool Generator::HandleReturn(Customer& c, const Pending& p,
                             v1::Envelope* event) {
  Rng& rng = c.rng;
  const v1::Channel ch =
      IsConsumer(c) ? (rng.Bernoulli(0.6) ? v1::CHANNEL_STORE : v1::CHANNEL_WEB)
                    : v1::CHANNEL_ERP;
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::OrderReturned* r = event->mutable_order_returned();
  std::string* oid = r->mutable_order_id();
  oid->assign(event->customer_id());
  oid->append("-O");
  AppendPadded(oid, p.ref, 4);
  const uint32_t qty = std::max<uint32_t>(1, p.arg2);
  const uint32_t back =
      rng.Bernoulli(0.6) ? qty : static_cast<uint32_t>(rng.Range(1, qty));
  SetMoney(r->mutable_refund_amount(),
           static_cast<int64_t>(static_cast<double>(p.amount) * back / qty));
  r->set_quantity(back);
  r->set_reason(Pick(kReturnReasons, rng));
  return true;
}

bool Generator::HandleComplaintOpen(Customer& c, const Pending& p,
                                    v1::Envelope* event) {
  Rng& rng = c.rng;
  static constexpr int kRaisedW[] = {45, 25, 20, 10};
  static constexpr v1::Channel kRaised[] = {v1::CHANNEL_CALL_CENTRE,
                                            v1::CHANNEL_WEB, v1::CHANNEL_EMAIL,
                                            v1::CHANNEL_FIELD_SALES};
  const v1::Channel ch = kRaised[rng.Weighted(kRaisedW)];
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::ComplaintOpened* k = event->mutable_complaint_opened();
  const uint32_t no = ++c.complaints;
  std::string* kid = k->mutable_complaint_id();
  kid->assign(event->customer_id());
  kid->append("-K");
  AppendPadded(kid, no, 3);
  static constexpr int kSevW[] = {45, 33, 16, 6};
  const int sev = 1 + rng.Weighted(kSevW);
  k->set_severity(static_cast<v1::ComplaintSeverity>(sev));
  static constexpr int kOrderCat[] = {40, 40, 10, 5, 5};
  static constexpr int kOtherCat[] = {10, 15, 30, 35, 10};
  const int cat =
      1 + (p.arg == 1 ? rng.Weighted(kOrderCat) : rng.Weighted(kOtherCat));
  k->set_category(static_cast<v1::ComplaintCategory>(cat));
  k->set_raised_via(ch);
  k->set_summary(kComplaintSummaries[cat - 1][rng.Uniform(2)]);

  c.last_complaint = now_;
  if (c.open_complaints < 255) ++c.open_complaints;
  // A bad experience makes churn likelier.
  if ((c.flags & internal::kBuying) && !(c.flags & internal::kChurned) &&
      c.churn_at > now_ + 30 * kDay && rng.Bernoulli(sev >= 3 ? 0.25 : 0.12)) {
    c.churn_at = now_ + kDay * rng.Range(20, 120);
    if (c.winback_at >= kNever && rng.Bernoulli(0.3)) {
      c.winback_at = c.churn_at + 120 * kDay +
                     static_cast<int64_t>(rng.Exponential(120.0 * kDay));
    }
  }
  // Most complaints are resolved; the slow tail breaches the SLA.
  if (!rng.Bernoulli(sev == 4 ? 0.03 : 0.08)) {
    static constexpr double kMedianDays[] = {6.0, 3.5, 2.0, 0.7};
    const double days = kMedianDays[sev - 1] * rng.LogNormal(0, 0.9);
    Pending r =
        At(now_ + std::max<int64_t>(600, static_cast<int64_t>(days * kDay)),
           p.customer, internal::kComplaintResolve);
    r.ref = no;
    r.arg = static_cast<uint8_t>(sev);
    Schedule(r);
  }
  return true;
}

bool Generator::HandleComplaintResolve(Customer& c, const Pending& p,
                                       v1::Envelope* event) {
  Rng& rng = c.rng;
  static constexpr int kChW[] = {60, 25, 15};
  static constexpr v1::Channel kCh[] = {
      v1::CHANNEL_CALL_CENTRE, v1::CHANNEL_EMAIL, v1::CHANNEL_FIELD_SALES};
  const v1::Channel ch = kCh[rng.Weighted(kChW)];
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::ComplaintResolved* r = event->mutable_complaint_resolved();
  std::string* kid = r->mutable_complaint_id();
  kid->assign(event->customer_id());
  kid->append("-K");
  AppendPadded(kid, p.ref, 3);
  static constexpr int kResW[] = {64, 26, 10};
  const int res = 1 + rng.Weighted(kResW);
  r->set_resolution(static_cast<v1::ComplaintResolution>(res));
  if (c.open_complaints > 0) --c.open_complaints;
  if (res == v1::COMPLAINT_RESOLUTION_UNSATISFIED) {
    c.satisfaction = std::max(0.0f, c.satisfaction - 0.1f);
  }
  if (rng.Bernoulli(0.5)) {
    Pending s = At(now_ + kHour + static_cast<int64_t>(rng.Uniform(3 * kDay)),
                   p.customer, internal::kSurvey);
    s.arg = 1;  // post-complaint
    s.ref = p.ref;
    Schedule(s);
  }
  return true;
}

bool Generator::HandleSurvey(Customer& c, const Pending& p,
                             v1::Envelope* event) {
  Rng& rng = c.rng;
  Begin(c, p.customer, v1::CHANNEL_EMAIL, managers_[0], event);
  v1::SurveyAnswered* s = event->mutable_survey_answered();
  std::string* sid = s->mutable_survey_id();
  if (p.arg == 0) {
    sid->assign("post-order-");
    sid->append(event->customer_id());
    sid->append("-O");
    AppendPadded(sid, p.ref, 4);
  } else if (p.arg == 1) {
    sid->assign("post-complaint-");
    sid->append(event->customer_id());
    sid->append("-K");
    AppendPadded(sid, p.ref, 3);
  } else {
    const absl::CivilDay d = day_civil_[now_ / kDay];
    sid->assign("nps-");
    AppendPadded(sid, static_cast<uint64_t>(d.year()), 4);
    sid->push_back('q');
    sid->push_back(static_cast<char>('1' + (d.month() - 1) / 3));
  }
  double score = c.satisfaction;
  if (c.open_complaints > 0) {
    score -= 0.35;
  } else if (now_ - c.last_complaint < 90 * kDay) {
    score -= 0.2;
  }
  if (p.arg == 1) score -= 0.1;
  const bool csat = p.arg != 2 || rng.Bernoulli(0.2);
  const bool nps = p.arg == 2 || rng.Bernoulli(p.arg == 0 ? 0.4 : 0.3);
  if (csat) {
    const double x = 1 + 4 * (score + 0.12 * rng.Normal());
    s->set_csat(static_cast<uint32_t>(std::clamp(x + 0.5, 1.0, 5.0)));
  }
  if (nps) {
    const double x = 10 * (score + 0.12 * rng.Normal());
    s->set_nps(static_cast<uint32_t>(std::clamp(x + 0.5, 0.0, 10.0)));
  }
  return true;
}

bool Generator::HandleLead(Customer& c, const Pending& p, v1::Envelope* event) {
  Rng& rng = c.rng;
  const bool consumer = IsConsumer(c);
  const v1::Channel ch = consumer
                             ? v1::CHANNEL_WEB
                             : (rng.Bernoulli(0.6) ? v1::CHANNEL_FIELD_SALES
                                                   : v1::CHANNEL_CALL_CENTRE);
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::LeadQualified* l = event->mutable_lead_qualified();
  l->set_source(Pick(kLeadSources, rng));
  const bool won = c.archetype == internal::kProspectWon;
  l->set_score(
      static_cast<uint32_t>(won ? rng.Range(55, 95) : rng.Range(10, 80)));
  if (consumer) {
    if (won) {
      const int64_t first =
          LaterOnDay(now_, 1 + static_cast<int64_t>(rng.Exponential(20)),
                     v1::CHANNEL_WEB, rng);
      PlanLife(c, first);
      Pending o = At(first, p.customer, internal::kOrderStream);
      o.arg = static_cast<uint8_t>(OrderChannel(c, rng));
      Schedule(o);
    }
  } else if (won || rng.Bernoulli(0.9)) {
    Pending o =
        At(now_ + kHour + static_cast<int64_t>(rng.Exponential(6.0 * kDay)),
           p.customer, internal::kOpportunity);
    o.ref = ++c.opportunities;
    o.arg = v1::OPPORTUNITY_STAGE_PROSPECTING;
    o.amount = ToMinor(c.order_value * 6 * (0.7 + 0.6 * rng.Double()));
    Schedule(o);
  }
  return true;
}

bool Generator::HandleOpportunity(Customer& c, const Pending& p,
                                  v1::Envelope* event) {
  Rng& rng = c.rng;
  const v1::Channel ch =
      rng.Bernoulli(0.8) ? v1::CHANNEL_FIELD_SALES : v1::CHANNEL_CALL_CENTRE;
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::OpportunityUpdated* o = event->mutable_opportunity_updated();
  std::string* oid = o->mutable_opportunity_id();
  oid->assign(event->customer_id());
  oid->append("-OP");
  AppendPadded(oid, p.ref, 2);
  const auto stage = static_cast<v1::OpportunityStage>(p.arg);
  o->set_stage(stage);
  static constexpr int kProb[] = {0, 10, 25, 45, 65, 100, 0};
  int prob = kProb[stage];
  if (stage < v1::OPPORTUNITY_STAGE_CLOSED_WON) {
    prob = std::clamp(prob + static_cast<int>(rng.Range(-5, 5)), 0, 100);
  }
  o->set_win_probability_pct(static_cast<uint32_t>(prob));
  SetMoney(o->mutable_expected_amount(), p.amount);
  const bool closed = stage >= v1::OPPORTUNITY_STAGE_CLOSED_WON;
  if (!closed) {
    SetTime(o->mutable_expected_close_at(), now_ + kDay * rng.Range(20, 90));
  }

  if (stage == v1::OPPORTUNITY_STAGE_CLOSED_WON) {
    if (!(c.flags & internal::kBuying)) {
      const int64_t first =
          LaterOnDay(now_, rng.Range(1, 14), v1::CHANNEL_ERP, rng);
      PlanLife(c, first);
      Pending n = At(first, p.customer, internal::kOrderStream);
      n.arg = static_cast<uint8_t>(OrderChannel(c, rng));
      Schedule(n);
    } else {
      c.order_rate = std::min(2.0f, c.order_rate * 1.15f);  // an upsell deal
    }
    return true;
  }
  if (closed) return true;
  // Open stage: move on, lose it, or let it go stale.
  int next = stage + 1;
  if (c.archetype != internal::kProspectWon) {
    const bool upsell = c.flags & internal::kBuying;
    if (rng.Bernoulli(0.12)) return true;  // stale, never closed
    if (rng.Bernoulli(upsell ? 0.2 : 0.3))
      next = v1::OPPORTUNITY_STAGE_CLOSED_LOST;
    if (next == v1::OPPORTUNITY_STAGE_CLOSED_WON &&
        (!upsell || rng.Bernoulli(0.4))) {
      next = v1::OPPORTUNITY_STAGE_CLOSED_LOST;
    }
  }
  Pending n =
      At(now_ + kDay + static_cast<int64_t>(rng.Exponential(12.0 * kDay)),
         p.customer, internal::kOpportunity);
  n.ref = p.ref;
  n.arg = static_cast<uint8_t>(next);
  n.amount = p.amount;
  Schedule(n);
  return true;
}

bool Generator::HandleTouchStream(Customer& c, const Pending& p,
                                  v1::Envelope* event) {
  Rng& rng = c.rng;
  if (c.flags & internal::kStopped) return false;
  const bool consumer = IsConsumer(c);
  const bool churned = c.flags & internal::kChurned;
  // arg 1: the follow-up visit promised at the previous visit.
  const bool follow_up = p.arg == 1;
  const bool visit =
      follow_up || (consumer ? rng.Bernoulli(0.35) : rng.Bernoulli(0.55));
  int64_t follow_up_at = -1;
  if (visit) {
    const v1::Channel ch =
        consumer ? v1::CHANNEL_STORE : v1::CHANNEL_FIELD_SALES;
    Begin(c, p.customer, ch, Actor(c, ch, rng), event);
    v1::VisitLogged* v = event->mutable_visit_logged();
    if (consumer) {
      v->set_kind(v1::VISIT_KIND_STORE);
      v->set_duration_minutes(static_cast<uint32_t>(rng.Range(5, 60)));
    } else {
      v->set_kind(follow_up || rng.Bernoulli(0.4) ? v1::VISIT_KIND_RETURN_VISIT
                                                  : v1::VISIT_KIND_ON_SITE);
      v->set_duration_minutes(static_cast<uint32_t>(rng.Range(15, 120)));
      v->set_notes(Pick(kVisitNotes, rng));
      if (rng.Bernoulli(0.6)) {
        follow_up_at = now_ + kDay * rng.Range(14, 60);
        SetTime(v->mutable_next_follow_up_at(), follow_up_at);
      }
    }
  } else {
    Begin(c, p.customer, v1::CHANNEL_CALL_CENTRE,
          Actor(c, v1::CHANNEL_CALL_CENTRE, rng), event);
    v1::CallLogged* call = event->mutable_call_logged();
    const bool inbound = rng.Bernoulli(consumer ? 0.75 : 0.35) && !churned;
    call->set_direction(inbound ? v1::CALL_DIRECTION_INBOUND
                                : v1::CALL_DIRECTION_OUTBOUND);
    static constexpr int kOutW[] = {60, 20, 10, 7, 3};
    static constexpr int kChurnedW[] = {30, 40, 20, 5, 5};
    const auto outcome = static_cast<v1::CallOutcome>(
        1 + (inbound
                 ? 0
                 : (churned ? rng.Weighted(kChurnedW) : rng.Weighted(kOutW))));
    call->set_outcome(outcome);
    call->set_duration_seconds(static_cast<uint32_t>(
        outcome == v1::CALL_OUTCOME_CONNECTED ? rng.Range(60, 1200)
                                              : rng.Range(0, 40)));
  }
  if (c.archetype == internal::kProspectLost && rng.Bernoulli(0.08)) {
    c.flags |= internal::kStopped;  // sales gives up on this prospect
    return true;
  }
  // Most promised follow-ups happen around the date; the rest are missed
  // (overdue follow-ups) and the usual rhythm goes on.
  Pending next =
      At(now_ + 600 +
             static_cast<int64_t>(rng.Exponential(TouchGapDays(c) * kDay)),
         p.customer, internal::kTouchStream);
  if (follow_up_at > 0 && rng.Bernoulli(0.8)) {
    next.key =
        static_cast<uint64_t>(TimeOnDay(follow_up_at / kDay + rng.Range(-1, 3),
                                        v1::CHANNEL_FIELD_SALES, rng))
        << 32;
    next.arg = 1;
  }
  Schedule(next);
  return true;
}

bool Generator::HandleGreetingVisit(Customer& c, const Pending& p,
                                    v1::Envelope* event) {
  Rng& rng = c.rng;
  const bool holiday = p.task == internal::kHolidayVisit;
  const absl::CivilDay today = day_civil_[now_ / kDay];
  // Items scheduled at registration only find the date; the visit itself
  // happens on that date, then recurs yearly.
  const bool due = p.arg == 1;
  bool emitted = false;
  if (due && !(c.flags & internal::kChurned)) {
    const v1::Channel ch = v1::CHANNEL_FIELD_SALES;
    Begin(c, p.customer, ch, Actor(c, ch, rng), event);
    v1::VisitLogged* v = event->mutable_visit_logged();
    v->set_kind(holiday ? v1::VISIT_KIND_HOLIDAY : v1::VISIT_KIND_BIRTHDAY);
    v->set_duration_minutes(static_cast<uint32_t>(rng.Range(10, 45)));
    v->set_notes(holiday ? "holiday greetings and gift" : "birthday greetings");
    emitted = true;
  }
  absl::CivilDay next;
  if (holiday) {
    next = absl::CivilDay(today.year(), 12, 15 + rng.Range(0, 8));
  } else {
    next = absl::CivilDay(today.year(), c.birth_month, c.birth_day);
  }
  if (next <= today) {
    next = holiday
               ? absl::CivilDay(today.year() + 1, 12, 15 + rng.Range(0, 8))
               : absl::CivilDay(today.year() + 1, c.birth_month, c.birth_day);
  }
  const int64_t day = next - day_civil_[0];
  Pending n =
      At(TimeOnDay(day, v1::CHANNEL_FIELD_SALES, rng), p.customer, p.task);
  n.arg = 1;
  Schedule(n);
  return emitted;
}

bool Generator::HandleMiscStream(Customer& c, const Pending& p,
                                 v1::Envelope* event) {
  Rng& rng = c.rng;
  const bool consumer = IsConsumer(c);
  const bool buying =
      (c.flags & internal::kBuying) && !(c.flags & internal::kChurned);
  Schedule(At(now_ + kHour +
                  static_cast<int64_t>(
                      rng.Exponential((consumer ? 150.0 : 70.0) * kDay)),
              p.customer, internal::kMiscStream));
  // profile, wallet, complaint, nps survey, regrade, upsell opportunity
  const int weights[] = {
      12,
      consumer ? 0 : 25,
      buying ? 12 : 0,
      buying ? (consumer ? 8 : 20) : 0,
      (c.flags & internal::kBuying) ? 2 : 1,
      (buying && !consumer && c.opportunities < 250) ? 8 : 0};
  const int what = rng.Weighted(weights, 6);
  Pending self = p;
  switch (what) {
    case 2:
      self.arg = 0;  // not about one order
      return HandleComplaintOpen(c, self, event);
    case 3:
      self.arg = 2;  // relationship survey
      return HandleSurvey(c, self, event);
    case 5: {
      Pending o = At(now_ + kHour, p.customer, internal::kOpportunity);
      o.ref = ++c.opportunities;
      o.arg = v1::OPPORTUNITY_STAGE_PROSPECTING;
      o.amount = ToMinor(c.order_value * 4 * (0.5 + rng.Double()));
      // The first stage is emitted now.
      o.key = static_cast<uint64_t>(now_) << 32;
      return HandleOpportunity(c, o, event);
    }
    default:
      break;
  }
  if (what == 0) {
    const v1::Channel ch =
        consumer
            ? v1::CHANNEL_WEB
            : (rng.Bernoulli(0.5) ? v1::CHANNEL_FIELD_SALES : v1::CHANNEL_API);
    Begin(c, p.customer, ch, Actor(c, ch, rng), event);
    v1::CustomerProfile* prof =
        event->mutable_profile_updated()->mutable_profile();
    bool any = false;
    if (!consumer && rng.Bernoulli(0.4)) {
      c.manager = static_cast<uint16_t>(rng.Uniform(options_.account_managers));
      prof->set_account_manager(managers_[c.manager]);
      any = true;
    }
    if (!consumer && rng.Bernoulli(0.15)) {
      static constexpr int kPos[] = {5, 20, 50, 25};
      prof->set_industry_position(
          static_cast<v1::IndustryPosition>(1 + rng.Weighted(kPos)));
      any = true;
    }
    if (rng.Bernoulli(0.15)) {
      prof->set_location_type(static_cast<v1::LocationType>(rng.Range(1, 4)));
      any = true;
    }
    if (!any || rng.Bernoulli(0.3)) {
      prof->set_relationship_type(
          static_cast<v1::RelationshipType>(c.relationship));
      FillContacts(p.customer, prof, rng);
      prof->clear_relationship_type();
    }
    return true;
  }
  if (what == 1) {
    const v1::Channel ch =
        rng.Bernoulli(0.5) ? v1::CHANNEL_FIELD_SALES : v1::CHANNEL_API;
    Begin(c, p.customer, ch, Actor(c, ch, rng), event);
    v1::WalletEstimated* w = event->mutable_wallet_estimated();
    const double ours = (c.flags & internal::kBuying)
                            ? c.order_rate * 365.0 * c.order_value
                            : c.order_value * 6.0;
    const double share = (c.flags & internal::kKey)
                             ? 0.3 + 0.65 * rng.Double()
                             : 0.05 + 0.75 * rng.Double();
    const int64_t spend = ToMinor(ours / share);
    SetMoney(w->mutable_category_spend(), spend);
    SetMoney(w->mutable_planned_purchases(),
             ToMinor(static_cast<double>(spend) * (0.7 + 0.8 * rng.Double())));
    return true;
  }
  // what == 4: a manual regrade.
  const v1::Channel ch =
      rng.Bernoulli(0.7) ? v1::CHANNEL_FIELD_SALES : v1::CHANNEL_API;
  Begin(c, p.customer, ch, Actor(c, ch, rng), event);
  v1::CustomerRegraded* g = event->mutable_customer_regraded();
  static constexpr int kTargetW[] = {40, 35, 25};
  switch (rng.Weighted(kTargetW)) {
    case 0:
      g->set_value_tier(static_cast<v1::ValueTier>(rng.Range(1, 4)));
      break;
    case 1:
      g->set_customer_class(static_cast<v1::CustomerClass>(rng.Range(1, 3)));
      break;
    default:
      g->set_stars(static_cast<uint32_t>(rng.Range(1, 5)));
      break;
  }
  g->set_reason(Pick(kRegradeReasons, rng));
  if (rng.Bernoulli(0.6)) {
    SetTime(g->mutable_expires_at(), now_ + kDay * rng.Range(90, 365));
  }
  return true;
}

}  // namespace crm::generator
