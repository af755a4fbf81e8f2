// Rules and generators for branch passwords. Internal to control/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion::control::internal {

inline constexpr std::int64_t kMaxPasswordTtlSeconds = 365 * 24 * 3600;
inline constexpr std::string_view kPlainTextPrefix = "scion_pw_";

// 1-64 printable ASCII characters, not starting or ending with a space.
Status ValidatePasswordName(std::string_view name);

// One of reader, writer, readwriter, admin; an empty role means admin (as in PlanetScale).
Result<std::string> NormalizeRole(std::string_view role);

// 0 (never expires) up to one year.
Status ValidateTtl(std::int64_t ttl_seconds);

// 20 random lowercase letters and digits.
std::string NewUsername();

// "scion_pw_" followed by 43 random base62 characters (about 256 bits).
std::string NewPlainTextPassword();

}  // namespace scion::control::internal
