// The gateway's statement guards: foreign keys are refused on every branch, DDL on branches with
// safe migrations. Pure functions over SQL text, so they are tested (and fuzzed) on their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace scion::gateway {

// The MySQL error a refused statement gets.
struct Refusal {
  std::uint16_t code = 1105;
  std::string sql_state = "HY000";
  std::string message;
  bool kill = false;  // refused for being a KILL (the gateway may translate a lone one instead)
};

struct GuardPolicy {
  bool safe_migrations = false;
  std::string branch;  // for the message
  std::string database;
};

// Checks a COM_QUERY text (one or several statements) or a COM_STMT_PREPARE text. A refused
// statement refuses the whole text: nothing of it may reach MariaDB.
std::optional<Refusal> CheckStatement(std::string_view sql, const GuardPolicy& policy);

// `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>`, alone in its text: clients (the mariadb CLI on
// ctrl-c) kill by the connection id the gateway gave them, which the gateway must translate to
// the backend's thread id. Only worth calling for a text CheckStatement refused with `kill`.
struct KillStatement {
  bool query_only = false;
  std::uint64_t connection_id = 0;
};
std::optional<KillStatement> ParseKill(std::string_view sql);

}  // namespace scion::gateway
