#include "cli/text_diff.h"

#include <sstream>
#include <vector>

namespace scion::cli {
namespace {

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

}  // namespace

std::string LineDiff(const std::string& before, const std::string& after, bool color) {
  auto a = Lines(before), b = Lines(after);
  std::vector<std::vector<int>> dp(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;) {
    for (std::size_t j = b.size(); j-- > 0;) {
      dp[i][j] = a[i] == b[j] ? dp[i + 1][j + 1] + 1 : std::max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const char* red = color ? "\033[31m" : "";
  const char* green = color ? "\033[32m" : "";
  const char* reset = color ? "\033[0m" : "";
  std::string out;
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out += "  " + a[i] + "\n";
      ++i;
      ++j;
    } else if (j < b.size() && (i == a.size() || dp[i][j + 1] >= dp[i + 1][j])) {
      out += std::string(green) + "+ " + b[j] + reset + "\n";
      ++j;
    } else {
      out += std::string(red) + "- " + a[i] + reset + "\n";
      ++i;
    }
  }
  return out;
}

}  // namespace scion::cli
