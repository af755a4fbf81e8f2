#include "schema/copy.h"

#include <algorithm>

#include <fmt/format.h>

namespace scion::schema {
namespace {
using mysql::QuoteIdentifier;
using mysql::QuoteString;
}  // namespace

std::string StripAutoIncrement(const std::string& create) {
  // Table options follow the closing parenthesis of the column list; the option is the only
  // place " AUTO_INCREMENT=<digits>" appears there.
  // Table options follow the column list's closing parenthesis on its own line.
  auto close = create.find("\n) ");
  if (close == std::string::npos) close = create.rfind(')');
  if (close == std::string::npos) return create;
  static constexpr std::string_view kOption = " AUTO_INCREMENT=";
  auto pos = create.find(kOption, close);
  auto partition = create.find("\n PARTITION BY", close);
  if (pos == std::string::npos || (partition != std::string::npos && pos > partition)) return create;
  // Not inside a quoted COMMENT: count quotes between the options' start and the match.
  if (std::count(create.begin() + static_cast<long>(close), create.begin() + static_cast<long>(pos), '\'') % 2) {
    return create;
  }
  auto end = pos + kOption.size();
  while (end < create.size() && create[end] >= '0' && create[end] <= '9') ++end;
  return create.substr(0, pos) + create.substr(end);
}

Result<std::vector<SchemaObject>> ReadSchema(mysql::AdminConnection& conn, const std::string& database) {
  SCION_ASSIGN_OR_RETURN(
      auto tables, conn.Query("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = " +
                              QuoteString(database) + " ORDER BY TABLE_NAME"));
  std::vector<SchemaObject> out;
  out.reserve(tables.rows.size());
  for (const auto& row : tables.rows) {
    SchemaObject obj;
    obj.name = row[0].value_or("");
    obj.kind = row[1].value_or("") == "VIEW" ? ObjectKind::kView : ObjectKind::kTable;
    std::string qualified = QuoteIdentifier(database) + "." + QuoteIdentifier(obj.name);
    std::string sql = obj.kind == ObjectKind::kView ? "SHOW CREATE VIEW " + qualified : "SHOW CREATE TABLE " + qualified;
    SCION_ASSIGN_OR_RETURN(auto created, conn.Query(sql));
    if (created.rows.empty() || created.rows[0].size() < 2 || !created.rows[0][1]) {
      return MakeError(ErrorCode::kInternal, fmt::format("no CREATE statement for {}", qualified));
    }
    obj.create_statement = StripAutoIncrement(*created.rows[0][1]);
    out.push_back(std::move(obj));
  }
  return out;
}

Result<int> CopySchema(mysql::AdminConnection& from, mysql::AdminConnection& to, const std::string& database) {
  SCION_ASSIGN_OR_RETURN(auto objects, ReadSchema(from, database));
  SCION_TRY(to.Execute("USE " + QuoteIdentifier(database)));
  SCION_TRY(to.Execute("SET SESSION foreign_key_checks = 0, SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"));
  int created = 0;
  std::vector<const SchemaObject*> views;
  for (const auto& obj : objects) {
    if (obj.kind == ObjectKind::kView) {
      views.push_back(&obj);
      continue;
    }
    SCION_TRY(to.Execute(obj.create_statement));
    ++created;
  }
  // A view may select from another view: create what can be created, repeat until done.
  while (!views.empty()) {
    std::vector<const SchemaObject*> pending;
    Error last;
    for (const auto* view : views) {
      auto r = to.Execute(view->create_statement);
      if (r) {
        ++created;
      } else {
        last = r.error();
        pending.push_back(view);
      }
    }
    if (pending.size() == views.size()) {
      return MakeError(ErrorCode::kInternal, fmt::format("cannot create view {}: {}", pending[0]->name, last.message));
    }
    views = std::move(pending);
  }
  return created;
}

}  // namespace scion::schema
