#include "control/internal/passwords.h"

#include <fmt/format.h>

#include "base/crypto.h"

namespace scion::control::internal {

Status ValidatePasswordName(std::string_view name) {
  auto invalid = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("invalid password name \"{}\": {}", name, why),
                     "use 1-64 printable characters, e.g. my-app-production");
  };
  if (name.empty()) return invalid("it is empty");
  if (name.size() > 64) return invalid("it is longer than 64 characters");
  for (char c : name) {
    if (c < 0x20 || c > 0x7e) return invalid("it has a character that is not printable ASCII");
  }
  if (name.front() == ' ' || name.back() == ' ') return invalid("it starts or ends with a space");
  return Ok();
}

Result<std::string> NormalizeRole(std::string_view role) {
  if (role.empty()) return std::string("admin");
  for (std::string_view known : {"reader", "writer", "readwriter", "admin"}) {
    if (role == known) return std::string(role);
  }
  return MakeError(ErrorCode::kInvalidArgument, fmt::format("unknown role \"{}\"", role),
                   "use reader, writer, readwriter or admin");
}

Status ValidateTtl(std::int64_t ttl_seconds) {
  if (ttl_seconds < 0 || ttl_seconds > kMaxPasswordTtlSeconds) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("invalid ttl {}: it must be between 0 (never expires) and {} seconds (one year)",
                                 ttl_seconds, kMaxPasswordTtlSeconds));
  }
  return Ok();
}

std::string NewUsername() { return RandomId(20); }

std::string NewPlainTextPassword() { return std::string(kPlainTextPrefix) + RandomBase62(43); }

}  // namespace scion::control::internal
