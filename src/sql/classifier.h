// Statement classification for the gateway's guards: which statements change the schema
// (refused on branches with safe migrations) and which declare foreign keys (refused everywhere).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sql/lexer.h"

namespace scion::sql {

enum class StatementKind {
  kEmpty,
  kSelect,
  kInsert,
  kUpdate,
  kDelete,
  kReplace,
  kDdl,
  kSet,
  kUse,
  kTransaction,  // BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, XA
  kShow,
  kPrepare,      // PREPARE, EXECUTE IMMEDIATE
  kExecute,
  kDeallocate,
  kCall,
  kLock,
  kOther,
};
std::string_view StatementKindName(StatementKind kind);

struct Classification {
  StatementKind kind = StatementKind::kEmpty;
  bool ddl = false;          // changes the schema: CREATE/ALTER/DROP/RENAME/TRUNCATE of tables,
                             // indexes, views, databases, routines, triggers, events; OPTIMIZE
  bool foreign_key = false;  // CREATE/ALTER TABLE declaring FOREIGN KEY or a REFERENCES clause
  // PREPARE ... FROM @var / EXECUTE IMMEDIATE @var: the statement text is not known here.
  bool dynamic_sql = false;
  bool kill = false;         // KILL (also prepared from a literal): the gateway translates or refuses it
  std::string first_keyword;  // upper case, e.g. "ALTER"
};

// One classification per statement of a (possibly multi-statement) text. Statements prepared
// from a string literal are classified by that string's content, so `PREPARE s FROM 'DROP ...'`
// counts as DDL.
std::vector<Classification> ClassifyAll(std::string_view sql);

// The union of ClassifyAll's flags, for deciding about a whole COM_QUERY.
Classification ClassifyText(std::string_view sql);

}  // namespace scion::sql
