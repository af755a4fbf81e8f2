// Per-table plan of a schema change: metadata-only (instant) or an online copy, and why.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "mysql/admin_connection.h"
#include "schema/model.h"

namespace scion::migrate {

enum class Strategy { kInstant, kCopy };
std::string_view StrategyName(Strategy s);

struct TablePlan {
  std::string schema;
  std::string table;
  schema::Table from;
  schema::Table to;
  std::vector<std::string> clauses;  // ALTER TABLE clauses turning `from` into `to`
  std::string ddl;                   // ALTER TABLE `t` <clauses>
  Strategy strategy = Strategy::kCopy;
  std::string reason;  // why: MariaDB's refusal of ALGORITHM=INSTANT, or that it accepted it
};

// Plans turning table `from` into `to` (same name) in `schema`. The instant check runs the ALTER
// with ALGORITHM=INSTANT on an empty clone of the table (same definition, same row format), so
// the real table is not touched. Fails with kInvalidArgument when the tables are equal.
Result<TablePlan> PlanTable(mysql::AdminConnection& conn, const std::string& schema, const schema::Table& from,
                            const schema::Table& to);

// Runs an instant plan's ALTER with ALGORITHM=INSTANT and a short lock wait (metadata lock only).
Status ApplyInstant(mysql::AdminConnection& conn, const TablePlan& plan);

}  // namespace scion::migrate
