// Rate limiting of failed logins, per client address and per user name, so that guessing
// passwords is slow whichever of the two an attacker varies.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace scion::gateway {

struct LoginLimits {
  int max_failures = 10;                     // failures within `window` before a lockout
  std::chrono::seconds window{60};
  std::chrono::seconds lockout{60};
};

class LoginLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginLimiter(LoginLimits limits) : limits_(limits) {}

  // Seconds until a login from `address` as `user` may be tried again; 0 when it may now.
  int RetryAfter(std::string_view address, std::string_view user, Clock::time_point now);
  void RecordFailure(std::string_view address, std::string_view user, Clock::time_point now);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point window_start;
    Clock::time_point locked_until;
  };
  int RetryAfterLocked(const std::string& key, Clock::time_point now);
  void FailLocked(const std::string& key, Clock::time_point now);
  void PruneLocked(Clock::time_point now);

  LoginLimits limits_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_; "a:<address>", "u:<user>"
};

}  // namespace scion::gateway
