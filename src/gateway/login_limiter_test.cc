#include "gateway/login_limiter.h"

#include <gtest/gtest.h>

namespace scion::gateway {
namespace {
using namespace std::chrono_literals;

TEST(LoginLimiterTest, LocksOutAnAddressAfterTooManyFailures) {
  LoginLimiter limiter({.max_failures = 3, .window = 60s, .lockout = 30s});
  auto t = LoginLimiter::Clock::now();
  for (int i = 0; i < 2; ++i) limiter.RecordFailure("10.0.0.1", "user" + std::to_string(i), t);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", "other", t), 0);
  limiter.RecordFailure("10.0.0.1", "user9", t);
  EXPECT_GT(limiter.RetryAfter("10.0.0.1", "other", t), 0);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.2", "other", t), 0);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", "other", t + 31s), 0);
}

TEST(LoginLimiterTest, LocksOutAUserFromEveryAddress) {
  LoginLimiter limiter({.max_failures = 3, .window = 60s, .lockout = 30s});
  auto t = LoginLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) limiter.RecordFailure("10.0.0." + std::to_string(i), "alice", t);
  EXPECT_GT(limiter.RetryAfter("10.9.9.9", "alice", t), 0);
  EXPECT_EQ(limiter.RetryAfter("10.9.9.9", "bob", t), 0);
}

TEST(LoginLimiterTest, FailuresOutsideTheWindowDoNotAddUp) {
  LoginLimiter limiter({.max_failures = 3, .window = 10s, .lockout = 30s});
  auto t = LoginLimiter::Clock::now();
  limiter.RecordFailure("a", "u", t);
  limiter.RecordFailure("a", "u", t + 1s);
  limiter.RecordFailure("a", "u", t + 20s);
  EXPECT_EQ(limiter.RetryAfter("a", "u", t + 20s), 0);
}

}  // namespace
}  // namespace scion::gateway
