#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace scion::log {

bool Init(std::string_view level) {
  spdlog::drop("scion");  // Init may be called again (the CLI sets a quiet default first)
  auto logger = spdlog::stderr_logger_mt("scion");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  auto parsed = spdlog::level::from_str(std::string(level));
  bool known = parsed != spdlog::level::off || level == "off";
  spdlog::set_level(known ? parsed : spdlog::level::info);
  spdlog::flush_on(spdlog::level::trace);
  return known;
}

std::string Quote(std::string_view value) {
  bool needs = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') needs = true;
  }
  if (!needs) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace scion::log
