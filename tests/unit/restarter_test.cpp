// The restarter's job limits (job_timeout_from): what a start, stop or restart job may take when
// actions.job_timeout is unset, from the unit's own TimeoutStartUSec / TimeoutStopUSec.
#include "agent/actions/restarter.hpp"

#include <gtest/gtest.h>

namespace mobasher::actions {
namespace {

using std::chrono::milliseconds;

UnitProperties props(std::optional<uint64_t> start_usec, std::optional<uint64_t> stop_usec) {
  UnitProperties p;
  p.unit = "archiver@ch1.service";
  p.load_state = "loaded";
  p.timeout_start_usec = start_usec;
  p.timeout_stop_usec = stop_usec;
  return p;
}

TEST(JobTimeout, UnknownPropertiesTakeSystemdsDefaults) {
  EXPECT_EQ(job_timeout_from("restart", nullptr), milliseconds(180'000) + kJobReplyAllowance);
  EXPECT_EQ(job_timeout_from("restart", nullptr), kDefaultJobTimeout + kJobReplyAllowance);
  EXPECT_EQ(job_timeout_from("start", nullptr), milliseconds(90'000) + kJobReplyAllowance);
  EXPECT_EQ(job_timeout_from("stop", nullptr), milliseconds(90'000) + kJobReplyAllowance);
}

TEST(JobTimeout, TheUnitsOwnTimeoutsByVerb) {
  UnitProperties p = props(20'000'000, 3'000'000);  // TimeoutStartSec=20s, TimeoutStopSec=3s
  EXPECT_EQ(job_timeout_from("start", &p), milliseconds(20'000) + kJobReplyAllowance);
  EXPECT_EQ(job_timeout_from("stop", &p), milliseconds(3'000) + kJobReplyAllowance);
  EXPECT_EQ(job_timeout_from("restart", &p), milliseconds(23'000) + kJobReplyAllowance);
}

TEST(JobTimeout, InfinityAndLongTimeoutsAreCappedAtTenMinutesEach) {
  UnitProperties inf = props(std::nullopt, std::nullopt);  // TimeoutSec=infinity
  EXPECT_EQ(job_timeout_from("start", &inf), milliseconds(600'000) + kJobReplyAllowance);
  EXPECT_EQ(job_timeout_from("restart", &inf), milliseconds(1'200'000) + kJobReplyAllowance);
  UnitProperties hour = props(3'600'000'000ull, 1'000'000);
  EXPECT_EQ(job_timeout_from("restart", &hour), milliseconds(601'000) + kJobReplyAllowance);
}

TEST(JobTimeout, ZeroMeansNoTimeoutAsInSystemd) {
  UnitProperties zero = props(0, 0);  // TimeoutSec=0: systemd waits forever
  EXPECT_EQ(job_timeout_from("restart", &zero), milliseconds(1'200'000) + kJobReplyAllowance);
}

}  // namespace
}  // namespace mobasher::actions
