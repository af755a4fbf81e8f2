#include "gateway/login_limiter.h"

#include <algorithm>

namespace scion::gateway {
namespace {
constexpr std::size_t kMaxEntries = 100000;
}

int LoginLimiter::RetryAfter(std::string_view address, std::string_view user, Clock::time_point now) {
  std::lock_guard lock(mu_);
  return std::max(RetryAfterLocked("a:" + std::string(address), now), RetryAfterLocked("u:" + std::string(user), now));
}

void LoginLimiter::RecordFailure(std::string_view address, std::string_view user, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxEntries) PruneLocked(now);
  FailLocked("a:" + std::string(address), now);
  FailLocked("u:" + std::string(user), now);
}

int LoginLimiter::RetryAfterLocked(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until <= now) return 0;
  auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.locked_until - now).count();
  return static_cast<int>(left) + 1;
}

void LoginLimiter::FailLocked(const std::string& key, Clock::time_point now) {
  Entry& e = entries_[key];
  if (now - e.window_start > limits_.window) {
    e.window_start = now;
    e.failures = 0;
  }
  if (++e.failures >= limits_.max_failures) e.locked_until = now + limits_.lockout;
}

void LoginLimiter::PruneLocked(Clock::time_point now) {
  std::erase_if(entries_, [&](const auto& kv) {
    return kv.second.locked_until <= now && now - kv.second.window_start > limits_.window;
  });
}

}  // namespace scion::gateway
