// Fuzz target: the SQL lexer, the statement classifier and the gateway's guards on arbitrary
// text. Besides not crashing, a guard decision must not change when harmless text (a comment, a
// preceding SELECT) is put in front: otherwise a client could slip a refused statement past it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/guard.h"
#include "sql/classifier.h"
#include "sql/lexer.h"

namespace {

using scion::gateway::CheckStatement;
using scion::gateway::GuardPolicy;

void Require(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "lexer_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

void CheckTokens(std::string_view sql) {
  auto tokens = scion::sql::Lex(sql);
  std::size_t last = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    Require(t.offset < sql.size(), "a token starts inside the input");
    Require(i == 0 || t.offset > last, "tokens come in input order");
    last = t.offset;
    if (t.kind == scion::sql::TokenKind::kWord) {
      Require(!t.text.empty() && sql.substr(t.offset, t.text.size()) == t.text, "a word is its input bytes");
      Require(t.Is(t.text), "a word is itself");
    }
    if (t.kind == scion::sql::TokenKind::kSemicolon) Require(sql[t.offset] == ';', "a semicolon is ';'");
  }
}

void CheckClassification(std::string_view sql) {
  auto all = scion::sql::ClassifyAll(sql);
  auto text = scion::sql::ClassifyText(sql);
  bool ddl = false, fk = false, dynamic = false;
  for (const auto& c : all) {
    ddl |= c.ddl;
    fk |= c.foreign_key;
    dynamic |= c.dynamic_sql;
  }
  Require(text.ddl == ddl && text.foreign_key == fk && text.dynamic_sql == dynamic,
          "ClassifyText is the union of ClassifyAll");
  (void)scion::sql::StatementKindName(text.kind);

  GuardPolicy open{.safe_migrations = false, .branch = "dev", .database = "db"};
  GuardPolicy safe{.safe_migrations = true, .branch = "main", .database = "db"};
  auto refused_open = CheckStatement(sql, open);
  auto refused_safe = CheckStatement(sql, safe);
  Require(!fk || refused_open.has_value(), "foreign keys are refused on every branch");
  Require(!dynamic || refused_open.has_value(), "dynamic SQL is refused on every branch");
  Require(!ddl || refused_safe.has_value(), "DDL is refused under safe migrations");
  Require(!refused_open || refused_safe.has_value(), "safe migrations refuse at least as much");
  if (!refused_open && !refused_safe) return;

  // A refused text stays refused, with the same reason, behind a comment or another statement.
  for (std::string_view prefix : {"/* c */ ", "SELECT 1; "}) {
    std::string prefixed = std::string(prefix) + std::string(sql);
    auto p_open = CheckStatement(prefixed, open);
    auto p_safe = CheckStatement(prefixed, safe);
    if (refused_open) {
      Require(p_open.has_value() && p_open->message == refused_open->message,
              "a refusal survives a harmless prefix (any branch)");
    }
    if (refused_safe) {
      Require(p_safe.has_value() && p_safe->message == refused_safe->message,
              "a refusal survives a harmless prefix (safe migrations)");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  CheckTokens(sql);
  CheckClassification(sql);
  (void)scion::gateway::ParseKill(sql);
  return 0;
}
