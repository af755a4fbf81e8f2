// `scion schema diff FROM.sql TO.sql`: an offline diff on a scratch MariaDB instance started for
// the occasion (no `scion server` needed).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "schema/diff.h"

namespace scion::cli {

// Loads both files into scratch databases of a temporary instance and diffs them.
Result<std::vector<schema::Statement>> OfflineDiff(const std::string& from_file, const std::string& to_file);

// Splits a SQL file into statements (semicolons outside quotes and comments; DELIMITER is not
// supported).
std::vector<std::string> SplitSql(const std::string& text);

}  // namespace scion::cli
