// A line diff for showing two CREATE statements side by side (`+`/`-` lines).
#pragma once

#include <string>

namespace scion::cli {

// Unified-style lines: "- old", "+ new", "  same". With `color`, removed lines are red and added
// lines green (ANSI).
std::string LineDiff(const std::string& before, const std::string& after, bool color);

}  // namespace scion::cli
