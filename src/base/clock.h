// Wall-clock helpers. Timestamps in the API are RFC 3339 UTC with milliseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace scion {

// Milliseconds since the Unix epoch.
std::int64_t NowUnixMillis();

// 2026-11-24T08:57:52.123Z for a Unix time in milliseconds.
std::string FormatTimestamp(std::int64_t unix_millis);

}  // namespace scion
