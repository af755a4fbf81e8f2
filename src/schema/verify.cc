#include "schema/verify.h"

#include <fmt/format.h>

#include "base/crypto.h"
#include "schema/introspect.h"

namespace scion::schema {

Status Verify(mysql::AdminConnection& conn, const Schema& from, const Schema& to,
              const std::vector<Statement>& statements) {
  std::string db = "_scion_verify_" + RandomId(10);
  std::string qdb = mysql::QuoteIdentifier(db);
  SCION_TRY(conn.Execute(fmt::format("CREATE DATABASE {} CHARACTER SET {} COLLATE {}", qdb, from.charset,
                                     from.collation)));
  struct Drop {
    mysql::AdminConnection& conn;
    std::string qdb;
    ~Drop() { (void)conn.Execute("DROP DATABASE IF EXISTS " + qdb); }
  } drop{conn, qdb};
  SCION_TRY(conn.Execute("USE " + qdb));
  SCION_TRY(conn.Execute("SET SESSION foreign_key_checks = 0"));
  for (const auto& [name, t] : from.tables) SCION_TRY(conn.Execute(t.create_sql));
  // Views may depend on views: create what can be created until all are.
  std::vector<const View*> pending;
  for (const auto& [name, v] : from.views) pending.push_back(&v);
  while (!pending.empty()) {
    std::vector<const View*> left;
    Error last;
    for (const auto* v : pending) {
      auto r = conn.Execute(ViewCreateSql(*v, false));
      if (!r) {
        last = r.error();
        left.push_back(v);
      }
    }
    if (left.size() == pending.size()) return std::unexpected(last);
    pending = std::move(left);
  }
  for (const auto& st : statements) {
    auto r = conn.Execute(st.sql);
    if (!r) {
      return MakeError(ErrorCode::kConflict, fmt::format("verification failed: {} was refused: {}", st.object,
                                                         r.error().message));
    }
  }
  SCION_ASSIGN_OR_RETURN(auto after, Introspect(conn, db));
  (void)conn.Execute("USE mysql");
  if (!after.SameAs(to)) {
    std::string rest;
    for (const auto& st : Diff(after, to)) rest += st.sql + "; ";
    return MakeError(ErrorCode::kConflict,
                     fmt::format("verification failed: after applying the diff the schema still differs: {}", rest),
                     "please report this with both schemas");
  }
  return Ok();
}

}  // namespace scion::schema
