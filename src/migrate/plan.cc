#include "migrate/plan.h"

#include <fmt/format.h>

#include "base/crypto.h"
#include "schema/diff.h"

namespace scion::migrate {

using mysql::QuoteIdentifier;

std::string_view StrategyName(Strategy s) { return s == Strategy::kInstant ? "instant" : "copy"; }

Result<TablePlan> PlanTable(mysql::AdminConnection& conn, const std::string& schema, const schema::Table& from,
                            const schema::Table& to) {
  TablePlan plan{.schema = schema, .table = from.name, .from = from, .to = to};
  plan.clauses = schema::AlterClauses(from, to);
  if (plan.clauses.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("table {} does not change", from.name));
  }
  std::string joined;
  for (const auto& c : plan.clauses) joined += (joined.empty() ? "" : ", ") + c;
  plan.ddl = fmt::format("ALTER TABLE {} {}", QuoteIdentifier(from.name), joined);

  // An empty clone takes the same ALTER the real table would, without touching it.
  std::string clone = fmt::format("_scion_plan_{}", RandomHex(6));
  std::string qclone = QuoteIdentifier(schema) + "." + QuoteIdentifier(clone);
  SCION_TRY(conn.Execute(fmt::format("CREATE TABLE {} LIKE {}.{}", qclone, QuoteIdentifier(schema),
                                     QuoteIdentifier(from.name))));
  auto tried = conn.Execute(fmt::format("ALTER TABLE {} {}, ALGORITHM=INSTANT", qclone, joined));
  (void)conn.Execute(fmt::format("DROP TABLE IF EXISTS {}", qclone));
  if (tried) {
    plan.strategy = Strategy::kInstant;
    plan.reason = "MariaDB applies every change as a metadata-only operation (ALGORITHM=INSTANT)";
  } else {
    plan.strategy = Strategy::kCopy;
    plan.reason = tried.error().message;
  }
  return plan;
}

Status ApplyInstant(mysql::AdminConnection& conn, const TablePlan& plan) {
  SCION_TRY(conn.Execute("SET SESSION lock_wait_timeout = 5"));
  std::string joined;
  for (const auto& c : plan.clauses) joined += (joined.empty() ? "" : ", ") + c;
  return conn.Execute(fmt::format("ALTER TABLE {}.{} {}, ALGORITHM=INSTANT", QuoteIdentifier(plan.schema),
                                  QuoteIdentifier(plan.table), joined));
}

}  // namespace scion::migrate
