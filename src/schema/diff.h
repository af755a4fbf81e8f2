// Diffing two schema models into the ordered statements that turn one into the other.
#pragma once

#include <string>
#include <vector>

#include "schema/model.h"

namespace scion::schema {

enum class ChangeKind { kCreateTable, kAlterTable, kDropTable, kCreateView, kAlterView, kDropView };
std::string_view ChangeKindName(ChangeKind kind);

struct Statement {
  std::string object;  // table or view name
  ChangeKind kind = ChangeKind::kAlterTable;
  std::string sql;
  bool drops_data = false;  // a dropped table or column, or a narrowed type
  bool instant = false;     // MariaDB can apply it as a metadata-only change (an estimate; the
                            // migration planner confirms with ALGORITHM=INSTANT)
};

// Statements that turn `from` into `to`, in an order MariaDB accepts: views that go away are
// dropped first, then tables are created, altered (one ALTER per table holding all of its
// clauses; rows survive) and dropped, then new and changed views are created (CREATE OR REPLACE)
// in dependency order.
std::vector<Statement> Diff(const Schema& from, const Schema& to);

// The ALTER TABLE clauses turning `from` into `to` (same table name); empty when equal.
std::vector<std::string> AlterClauses(const Table& from, const Table& to);

// True when changing a column's type from `from` to `to` can lose or change values.
bool IsNarrowing(const std::string& from, const std::string& to);

}  // namespace scion::schema
