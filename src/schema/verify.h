// Verification of a diff on a real MariaDB instance.
#pragma once

#include <vector>

#include "base/error.h"
#include "mysql/admin_connection.h"
#include "schema/diff.h"
#include "schema/model.h"

namespace scion::schema {

// Recreates `from` in a scratch database on `conn`'s instance, applies `statements` there,
// introspects the result and checks it equals `to`. The scratch database is dropped afterwards,
// and `conn` is left without a default database. Fails with kConflict when the result differs
// (the message lists what still differs) or a statement is refused.
Status Verify(mysql::AdminConnection& conn, const Schema& from, const Schema& to,
              const std::vector<Statement>& statements);

}  // namespace scion::schema
