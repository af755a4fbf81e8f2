#include "cli/passwords.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

namespace scion::cli {
using json = nlohmann::json;

Result<std::int64_t> ParseTtl(std::string_view text) {
  auto invalid = [&] {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("invalid --ttl \"{}\"", text),
                     "use seconds (3600) or a number with s, m, h or d (30m, 24h, 7d)");
  };
  if (text.empty()) return invalid();
  std::int64_t unit = 1;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: unit = 0; break;
  }
  std::string_view digits = unit == 0 ? text : text.substr(0, text.size() - 1);
  if (unit == 0) unit = 1;
  if (digits.empty() || digits.front() == '+' || digits.front() == '-') return invalid();
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return invalid();
  if (n > std::numeric_limits<std::int64_t>::max() / unit) return invalid();
  return n * unit;
}

std::string CreatedPasswordText(const json& created) {
  std::string user = created.value("username", "");
  std::string pw = created.value("plain_text", "");
  std::string db = created.value("database", "");
  std::string branch = created.contains("database_branch") ? created["database_branch"].value("name", "") : "";
  std::string access = created.value("access_host_url", "");
  std::string host = "<host>", port = "<port>";
  if (auto colon = access.rfind(':'); !access.empty() && colon != std::string::npos) {
    host = access.substr(0, colon);
    port = access.substr(colon + 1);
  }
  std::string hostport = access.empty() ? host + ":" + port : access;
  std::string expires = created["expires_at"].is_string() ? created["expires_at"].get<std::string>() : "never";

  std::string out = fmt::format("Password \"{}\" was created for {}/{}.\n\n", created.value("name", ""), db, branch);
  out += fmt::format("  ID          {}\n", created.value("id", ""));
  out += fmt::format("  USERNAME    {}\n", user);
  out += fmt::format("  PASSWORD    {}\n", pw);
  out += fmt::format("  ROLE        {}\n", created.value("role", ""));
  out += fmt::format("  HOST        {}\n", access.empty() ? "(gateway not running)" : access);
  out += fmt::format("  EXPIRES AT  {}\n\n", expires);
  out += "Connect with:\n";
  out += fmt::format("  mysql -h {} -P {} -u {} -p'{}' {}\n", host, port, user, pw, db);
  out += fmt::format("  mysql2:  mysql://{}:{}@{}/{}\n", user, pw, hostport, db);
  out += fmt::format("  Prisma:  DATABASE_URL=\"mysql://{}:{}@{}/{}?sslaccept=strict\"\n", user, pw, hostport, db);
  if (access.empty()) out += "  (the gateway is not running: fill in its host and port when it is)\n";
  out += "\nSave the password now: it will not be shown again.\n";
  return out;
}

}  // namespace scion::cli
