// Structured logging on stderr: `ts=... level=info msg="..." key=value ...` (logfmt).
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace scion::log {

// Installs the stderr logger. `level` is one of trace, debug, info, warn, error, off.
// Returns false when the level name is unknown (the level stays at info).
bool Init(std::string_view level);

// Quotes a value for logfmt when it holds spaces, quotes or '='.
std::string Quote(std::string_view value);

}  // namespace scion::log
