#include "projections/card/card.h"

#include "engine/base/time_util.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "projections/rules/units.h"
#include "tests/projections/builders.h"

namespace crm::projections {
namespace {

using testing::Day;
using testing::Event;

class CardTest : public ::testing::Test {
 protected:
  const v1::Rules rules_ = DefaultRules();
  v1::CustomerCard card_;
};

TEST_F(CardTest, ProfileMergeOverwritesSetFieldsOnly) {
  v1::CustomerProfile p;
  p.set_name("Acme");
  p.set_region("north");
  p.set_ownership(v1::OWNERSHIP_PRIVATE);
  p.add_contacts()->set_name("Ann");
  p.add_contacts()->set_name("Bob");
  v1::CustomerProfile u;
  u.set_region("south");
  u.set_business_nature(v1::BUSINESS_NATURE_RETAIL);
  MergeProfile(u, &p);
  EXPECT_EQ(p.name(), "Acme");
  EXPECT_EQ(p.region(), "south");
  EXPECT_EQ(p.ownership(), v1::OWNERSHIP_PRIVATE);
  EXPECT_EQ(p.business_nature(), v1::BUSINESS_NATURE_RETAIL);
  EXPECT_EQ(p.contacts_size(), 2);
  v1::CustomerProfile c;
  c.add_contacts()->set_name("Cy");
  MergeProfile(c, &p);
  ASSERT_EQ(p.contacts_size(), 1);
  EXPECT_EQ(p.contacts(0).name(), "Cy");
}

TEST_F(CardTest, CountsAndLastTimesPerKind) {
  const absl::Time t = Day(2026, 2, 1);
  ApplyToCard(Event("e1", t).Registered("Acme", "am1"), &card_);
  ApplyToCard(Event("e2", t + absl::Hours(1)).Visit(v1::VISIT_KIND_ON_SITE),
              &card_);
  ApplyToCard(Event("e3", t + absl::Hours(3)).Call(), &card_);
  ApplyToCard(Event("e4", t + absl::Hours(2)).Call(), &card_);  // late
  ApplyToCard(Event("e5", t + absl::Hours(5)).Wallet(10, 10), &card_);
  EXPECT_EQ(card_.customer_id(), "c1");
  EXPECT_EQ(card_.profile().name(), "Acme");
  EXPECT_EQ(card_.profile().account_manager(), "am1");
  EXPECT_EQ(FromProto(card_.registered_at()), t);
  EXPECT_EQ(card_.visits().count(), 1u);
  EXPECT_EQ(card_.calls().count(), 2u);
  EXPECT_EQ(FromProto(card_.calls().last_at()), t + absl::Hours(3));
  // The wallet estimate is a record, not a contact.
  EXPECT_EQ(FromProto(card_.last_contact_at()), t + absl::Hours(3));
  EXPECT_EQ(FromProto(card_.last_event_at()), t + absl::Hours(5));
  EXPECT_EQ(card_.events_applied(), 5u);
}

TEST_F(CardTest, CreditStandingFromPayments) {
  const absl::Time t = Day(2026, 2, 1);
  ApplyToCard(Event("p1", t).Payment("i1", 1000, 0, 500), &card_);
  ApplyToCard(Event("p2", t + Days(1)).Payment("i2", 200, 10, 300), &card_);
  ApplyToCard(Event("p3", t + Days(2)).Payment("i3", 300, 5, 0), &card_);
  const auto& c = card_.credit();
  EXPECT_EQ(c.payments(), 3u);
  EXPECT_EQ(c.late_payments(), 2u);
  EXPECT_EQ(c.max_days_late(), 10u);
  EXPECT_EQ(c.total_days_late(), 15u);
  EXPECT_DOUBLE_EQ(c.avg_days_late(), 5);
  EXPECT_EQ(c.outstanding().minor_units(), 0);
  EXPECT_EQ(c.paid_total().minor_units(), 1500);
  // A late payment report does not override the newer balance.
  ApplyToCard(Event("p0", t).Payment("i0", 10, 0, 999), &card_);
  EXPECT_EQ(card_.credit().outstanding().minor_units(), 0);
}

TEST_F(CardTest, ReturnVisitCadenceByClass) {
  FollowUpInputs in;
  in.registered_at = Day(2026, 1, 1);
  in.last_visit_at = Day(2026, 3, 1);
  const absl::Time now = Day(2026, 3, 2);
  FollowUp f = NextFollowUp(in, rules_, now);
  EXPECT_EQ(f.at, Day(2026, 3, 1) + Days(90));  // unclassified: ordinary
  EXPECT_EQ(f.reason, "return visit");
  in.customer_class = v1::CUSTOMER_CLASS_KEY;
  EXPECT_EQ(NextFollowUp(in, rules_, now).at, Day(2026, 3, 31));
  in.customer_class = v1::CUSTOMER_CLASS_SPECIAL;
  EXPECT_EQ(NextFollowUp(in, rules_, now).at, Day(2026, 3, 1) + Days(180));
  in.last_visit_at = absl::InfinitePast();  // never visited: registration
  in.customer_class = v1::CUSTOMER_CLASS_KEY;
  EXPECT_EQ(NextFollowUp(in, rules_, now).at, Day(2026, 1, 31));
}

TEST_F(CardTest, EarliestFollowUpWins) {
  FollowUpInputs in;
  in.last_visit_at = Day(2026, 3, 1);  // return visit 2026-05-30
  in.explicit_follow_up_at = Day(2026, 3, 10);
  EXPECT_EQ(NextFollowUp(in, rules_, Day(2026, 3, 2)).reason,
            "follow-up requested");
  in.has_birthday = true;
  in.birthday_month = 3;
  in.birthday_day = 15;  // due 2026-03-08 (7 days lead)
  FollowUp f = NextFollowUp(in, rules_, Day(2026, 3, 2));
  EXPECT_EQ(f.at, Day(2026, 3, 8));
  EXPECT_EQ(f.reason, "birthday");
}

TEST_F(CardTest, BirthdayLeadDaysAndRollover) {
  FollowUpInputs in;
  in.has_birthday = true;
  in.birthday_month = 6;
  in.birthday_day = 20;
  v1::Rules r = rules_;
  r.mutable_follow_up()->clear_holidays();
  // On the birthday itself it is still this year's (overdue since 13 June).
  EXPECT_EQ(NextFollowUp(in, r, Day(2026, 6, 20, absl::Hours(23))).at,
            Day(2026, 6, 13));
  // The day after, next year's.
  EXPECT_EQ(NextFollowUp(in, r, Day(2026, 6, 21)).at, Day(2027, 6, 13));
  EXPECT_EQ(NextFollowUpDeadline(in, r, Day(2026, 6, 1)), Day(2026, 6, 21));
  // A birthday visit on or after the due time settles this year's.
  in.last_birthday_visit_at = Day(2026, 6, 13);
  EXPECT_EQ(NextFollowUp(in, r, Day(2026, 6, 14)).at, Day(2027, 6, 13));
  in.last_birthday_visit_at = Day(2026, 6, 13) - absl::Seconds(1);
  EXPECT_EQ(NextFollowUp(in, r, Day(2026, 6, 14)).at, Day(2026, 6, 13));
}

TEST_F(CardTest, LeapDayBirthdayFallsOnFeb28) {
  EXPECT_EQ(NextAnnual(2, 29, absl::CivilDay(2027, 1, 1)),
            absl::CivilDay(2027, 2, 28));
  EXPECT_EQ(NextAnnual(2, 29, absl::CivilDay(2028, 1, 1)),
            absl::CivilDay(2028, 2, 29));
  EXPECT_EQ(NextAnnual(12, 25, absl::CivilDay(2026, 12, 26)),
            absl::CivilDay(2027, 12, 25));
}

TEST_F(CardTest, HolidayGreetings) {
  FollowUpInputs in;  // nothing else due
  FollowUp f = NextFollowUp(in, rules_, Day(2026, 11, 1));
  EXPECT_EQ(f.at, Day(2026, 12, 11));  // Christmas minus 14 days
  EXPECT_EQ(f.reason, "holiday");
  // A holiday visit after Christmas' due time settles Christmas: next is
  // New Year 2027 minus 14 days.
  in.last_holiday_visit_at = Day(2026, 12, 12);
  EXPECT_EQ(NextFollowUp(in, rules_, Day(2026, 12, 13)).at, Day(2026, 12, 18));
  // One after both due times settles both.
  in.last_holiday_visit_at = Day(2026, 12, 20);
  EXPECT_EQ(NextFollowUp(in, rules_, Day(2026, 12, 21)).at, Day(2027, 12, 11));
}

// The integer day arithmetic behind the follow-up dates agrees with
// absl::CivilDay, including days past a month's end (they carry over, as
// CivilDay normalizes them) and 29 February.
TEST(CardDayArithmeticTest, MatchesCivilDays) {
  const absl::CivilDay epoch(1970, 1, 1);
  for (int64_t n = -800000; n <= 800000; n += 97) {
    const absl::CivilDay d = epoch + n;
    ASSERT_EQ(YearOfDay(n), d.year()) << n;
    ASSERT_EQ(DaysFromCivil(d.year(), d.month(), d.day()), n) << n;
    ASSERT_EQ(DaysFromCivil(d.year(), d.month(), d.day() + 40),
              absl::CivilDay(d.year(), d.month(), d.day() + 40) - epoch)
        << n;
  }
  auto reference = [](int month, int day, absl::CivilDay from) {
    auto in = [&](int64_t y) {
      const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
      return absl::CivilDay(y, month,
                            month == 2 && day == 29 && !leap ? 28 : day);
    };
    absl::CivilDay d = in(from.year());
    return d < from ? in(from.year() + 1) : d;
  };
  for (int64_t n = -3000; n <= 60000; n += 13) {
    const absl::CivilDay from = epoch + n;
    for (int month = 1; month <= 12; ++month) {
      for (int day = 1; day <= 31; day += 1) {
        ASSERT_EQ(NextAnnual(month, day, from), reference(month, day, from))
            << from << " " << month << "/" << day;
      }
    }
  }
}

}  // namespace
}  // namespace crm::projections
