// Copying a schema between MariaDB instances (branch creation) and reading it for display.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "mysql/admin_connection.h"

namespace scion::schema {

enum class ObjectKind { kTable, kView };

struct SchemaObject {
  std::string name;
  ObjectKind kind = ObjectKind::kTable;
  std::string create_statement;  // SHOW CREATE output, AUTO_INCREMENT counter removed
};

// Reads the tables and views of `database`, ordered by name. AUTO_INCREMENT counters are not
// part of a schema and are stripped from the CREATE statements.
Result<std::vector<SchemaObject>> ReadSchema(mysql::AdminConnection& conn, const std::string& database);

// Creates every table and view of `from`'s `database` in `to`'s `database` (which must exist and
// be empty), copying no rows. Views are created after tables, in dependency order. Triggers,
// routines and events are not copied. Returns the number of objects created.
Result<int> CopySchema(mysql::AdminConnection& from, mysql::AdminConnection& to, const std::string& database);

// `create` without its ` AUTO_INCREMENT=N` table option (exposed for tests).
std::string StripAutoIncrement(const std::string& create);

}  // namespace scion::schema
