// Lint of a schema change: what makes a deploy unsafe (errors) or worth a second look (warnings).
#pragma once

#include <string>
#include <vector>

#include "schema/model.h"

namespace scion::schema {

enum class Severity { kError, kWarning };

struct Finding {
  std::string code;     // FOREIGN_KEY, NO_UNIQUE_KEY, UNSUPPORTED_ENGINE, UNSUPPORTED_CHARSET,
                        // UNSUPPORTED_OBJECT, DROPS_DATA, UNIQUE_KEY_ADDED
  Severity severity = Severity::kError;
  std::string table;
  std::string column;   // empty when the finding is about the table
  std::string message;  // a sentence for users
  std::string Subject() const { return column.empty() ? table : table + "." + column; }
};

// Findings for turning `from` into `to`, sorted by code, then subject. Checks of the resulting
// schema (foreign keys, missing unique keys, engines, charsets) apply to every table of `to`;
// checks of the change (dropped data, new unique keys) to what differs.
std::vector<Finding> Lint(const Schema& from, const Schema& to);

bool HasErrors(const std::vector<Finding>& findings);

}  // namespace scion::schema
