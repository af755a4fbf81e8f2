// Output formats shared by every command: human (aligned table), json (the API object), csv.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "base/error.h"

namespace scion::cli {

enum class Format { kHuman, kJson, kCsv };
Result<Format> ParseFormat(const std::string& name);

struct Column {
  std::string header;  // shown in human and csv output
  std::string field;   // JSON field of each object; "a.b" reaches into nested objects
};

// Renders `objects` (a JSON array, or one object) as a table of `columns`, as CSV, or as JSON.
std::string Render(const nlohmann::json& objects, const std::vector<Column>& columns, Format format);

// The text of one cell: strings as-is, null as "-", booleans yes/no, other values dumped.
std::string CellText(const nlohmann::json& value);

// Process exit codes, documented in docs/cli.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,
  kExitUsage = 2,
  kExitNotFound = 3,
  kExitConflict = 4,
  kExitUnauthorized = 5,
  kExitUnavailable = 6,
  kExitTimeout = 7,
};
int ExitCodeFor(ErrorCode code);

}  // namespace scion::cli
