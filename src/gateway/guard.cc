#include "gateway/guard.h"

#include <fmt/format.h>

#include "sql/classifier.h"

namespace scion::gateway {

std::optional<Refusal> CheckStatement(std::string_view sql, const GuardPolicy& policy) {
  bool ddl = false;
  for (const auto& c : sql::ClassifyAll(sql)) {
    if (c.foreign_key) {
      return Refusal{.message =
                         "foreign key constraints are not allowed: Scion keeps referential integrity in the "
                         "application. Declare the column and an index on it without FOREIGN KEY or REFERENCES"};
    }
    if (c.dynamic_sql) {
      return Refusal{.message =
                         "PREPARE or EXECUTE IMMEDIATE from a user variable is not allowed through the gateway: its "
                         "statement cannot be checked. Prepare from a string literal instead"};
    }
    if (c.kill) {
      return Refusal{.message =
                         "KILL through the gateway takes the connection id your client shows (not MariaDB's), "
                         "alone in its statement: KILL [QUERY] <id>",
                     .kill = true};
    }
    ddl = ddl || c.ddl;
  }
  if (ddl && policy.safe_migrations) {
    return Refusal{.message = fmt::format(
                       "direct DDL is disabled on branch {} (safe migrations are enabled). Make the change on a "
                       "development branch and open a deploy request: scion deploy-request create {} <branch>",
                       policy.branch, policy.database)};
  }
  return std::nullopt;
}

std::optional<KillStatement> ParseKill(std::string_view sql) {
  auto tokens = sql::Lex(sql);
  while (!tokens.empty() && tokens.back().kind == sql::TokenKind::kSemicolon) tokens.pop_back();
  std::size_t i = 0;
  auto word = [&](std::string_view w) {
    if (i < tokens.size() && tokens[i].kind == sql::TokenKind::kWord && tokens[i].Is(w)) {
      ++i;
      return true;
    }
    return false;
  };
  if (!word("KILL")) return std::nullopt;
  KillStatement k;
  if (!word("HARD")) word("SOFT");
  if (word("QUERY")) {
    k.query_only = true;
  } else {
    word("CONNECTION");
  }
  if (i + 1 != tokens.size() || tokens[i].kind != sql::TokenKind::kNumber) return std::nullopt;
  const std::string& n = tokens[i].text;
  if (n.empty() || n.size() > 10 || n.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  k.connection_id = std::stoull(n);
  return k;
}

}  // namespace scion::gateway
