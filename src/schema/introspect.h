// Reading a live schema into the model, with normalization.
#pragma once

#include <string>

#include "base/error.h"
#include "mysql/admin_connection.h"
#include "schema/model.h"

namespace scion::schema {

// Reads every table and view of `database` (a handful of information_schema queries for the
// whole schema, plus SHOW CREATE TABLE per table). Triggers, routines and events are listed in
// `unsupported`.
Result<Schema> Introspect(mysql::AdminConnection& conn, const std::string& database);

// Normalizations, exposed for tests.
std::string NormalizeColumnType(std::string column_type);
std::string CollapseWhitespace(std::string_view s);

}  // namespace scion::schema
