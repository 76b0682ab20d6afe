#include "engine/base/status_macros.h"

#include "engine/base/exit_codes.h"
#include "engine/base/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace crm {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  CRM_ASSIGN_OR_RETURN(int h, Half(x));
  CRM_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  CRM_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnPassesValueAndError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
}

TEST(StatusMacrosTest, ReturnIfErrorStopsOnError) {
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExitCodesTest, MapsCodesScriptsRelyOn) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), kExitInvalidInput);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(absl::DataLossError("x")), kExitDataLoss);
  EXPECT_EQ(ExitCodeFor(absl::UnimplementedError("x")), kExitNotImplemented);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("x")), kExitInternal);
}

TEST(TimeUtilTest, TimestampRoundTripKeepsNanos) {
  absl::Time t = absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(123);
  google::protobuf::Timestamp ts = ToProto(t);
  EXPECT_EQ(ts.seconds(), 1700000000);
  EXPECT_EQ(ts.nanos(), 123);
  EXPECT_EQ(FromProto(ts), t);
  EXPECT_EQ(FormatRfc3339(absl::FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
}

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  testing::FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
}

}  // namespace
}  // namespace crm
