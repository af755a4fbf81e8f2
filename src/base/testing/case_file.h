// Reader of data-driven test files (testdata/*.test) shared by modules' tests:
//
//   === case name
//   --- from
//   CREATE TABLE t (id INT PRIMARY KEY);
//   --- to
//   ...
//
// Each case is a name and named blocks (from, to, base, ours, theirs, result, conflict, findings,
// equal). Test-only; not part of the module's surface.
#pragma once

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace scion::testing {

struct Case {
  std::string file;
  std::string name;
  std::map<std::string, std::string> blocks;  // block name -> text ("" for marker blocks)
  bool Has(const std::string& b) const { return blocks.count(b) > 0; }
};

inline std::vector<Case> ReadCases(const std::filesystem::path& path) {
  std::vector<Case> out;
  std::ifstream in(path);
  std::string line, block;
  while (std::getline(in, line)) {
    if (line.rfind("=== ", 0) == 0) {
      out.push_back(Case{path.filename().string(), line.substr(4), {}});
      block.clear();
      continue;
    }
    if (out.empty()) continue;
    if (line.rfind("--- ", 0) == 0) {
      block = line.substr(4);
      while (!block.empty() && block.back() == ' ') block.pop_back();
      out.back().blocks[block];
      continue;
    }
    if (!block.empty()) out.back().blocks[block] += line + "\n";
  }
  return out;
}

inline std::vector<Case> ReadDir(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".test") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Case> all;
  for (const auto& f : files) {
    auto cases = ReadCases(f);
    all.insert(all.end(), cases.begin(), cases.end());
  }
  return all;
}

// Splits a block into statements at semicolons that end a line.
inline std::vector<std::string> SplitStatements(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("--", 0) == 0 || line.rfind("#", 0) == 0) continue;
    cur += line + "\n";
    auto end = line.find_last_not_of(" \t\r");
    if (end != std::string::npos && line[end] == ';') {
      auto semi = cur.rfind(';');
      cur.erase(semi);
      if (cur.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(cur);
      cur.clear();
    }
  }
  if (cur.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(cur);
  return out;
}

}  // namespace scion::testing
