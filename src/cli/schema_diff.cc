#include "cli/schema_diff.h"

#include <signal.h>

#include <filesystem>

#include <fmt/format.h>

#include "base/files.h"
#include "fleet/scratch.h"
#include "mysql/admin_connection.h"
#include "schema/introspect.h"

namespace scion::cli {
namespace fs = std::filesystem;

std::vector<std::string> SplitSql(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      cur += c;
      if (c == '\\' && quote != '`' && i + 1 < text.size()) {
        cur += text[++i];
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      quote = c;
      cur += c;
      continue;
    }
    if ((c == '-' && i + 2 < text.size() && text[i + 1] == '-' && std::isspace(static_cast<unsigned char>(text[i + 2]))) ||
        c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      cur += '\n';
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      auto end = text.find("*/", i + 2);
      std::size_t stop = end == std::string::npos ? text.size() : end + 2;
      bool executable = i + 2 < text.size() && (text[i + 2] == '!' || (text[i + 2] == 'M' && i + 3 < text.size() &&
                                                                       text[i + 3] == '!'));
      // Executable comments (/*! */, /*M! */) are SQL MariaDB runs: keep them whole, semicolons
      // included; ordinary comments go.
      cur += executable ? text.substr(i, stop - i) : std::string(" ");
      i = stop - 1;
      continue;
    }
    if (c == ';') {
      if (cur.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (cur.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(cur);
  return out;
}

namespace {

std::string CollapseSpaces(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string FirstWords(const std::string& stmt, int n) {
  std::string s = CollapseSpaces(stmt);
  std::size_t pos = 0;
  for (int i = 0; i < n && pos != std::string::npos; ++i) pos = s.find(' ', pos + (i ? 1 : 0));
  return pos == std::string::npos ? s : s.substr(0, pos);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Holds SIGINT/SIGTERM while the scratch instance exists, so Ctrl-C cannot leave it running;
// a signal that arrived meanwhile is delivered when the guard goes away, after cleanup.
class DeferSignals {
 public:
  DeferSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~DeferSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

}  // namespace

Result<std::vector<schema::Statement>> OfflineDiff(const std::string& from_file, const std::string& to_file) {
  DeferSignals defer;  // destroyed last: after the scratch instance is stopped and removed
  SCION_ASSIGN_OR_RETURN(std::string from_sql, ReadFile(from_file));
  SCION_ASSIGN_OR_RETURN(std::string to_sql, ReadFile(to_file));
  SCION_ASSIGN_OR_RETURN(auto scratch, fleet::ScratchInstance::Start());
  std::vector<schema::Schema> schemas;
  for (auto [file, sql, db] : {std::tuple{from_file, &from_sql, "scion_from"}, std::tuple{to_file, &to_sql, "scion_to"}}) {
    // A connection per file: one file's session settings must not leak into the other's.
    SCION_ASSIGN_OR_RETURN(auto conn, scratch->Connect());
    SCION_TRY(conn->Execute(fmt::format("CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", db)));
    SCION_TRY(conn->Execute(fmt::format("USE {}", db)));
    for (const auto& stmt : SplitSql(*sql)) {
      std::string head = Upper(FirstWords(stmt, 2));
      if (head.rfind("USE ", 0) == 0 || head == "USE" || head.rfind("CREATE DATABASE", 0) == 0 ||
          head.rfind("CREATE SCHEMA", 0) == 0 || head.rfind("DROP DATABASE", 0) == 0 ||
          head.rfind("DROP SCHEMA", 0) == 0) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("{}: \"{}\" switches databases; a schema file describes one database",
                                     file, CollapseSpaces(stmt.substr(0, 60))),
                         "remove USE / CREATE DATABASE lines (e.g. dump without --databases)");
      }
      auto r = conn->Execute(stmt);
      if (!r) {
        return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: {}", file, r.error().message),
                         "the file must hold CREATE TABLE / CREATE VIEW statements MariaDB accepts");
      }
    }
    SCION_ASSIGN_OR_RETURN(auto s, schema::Introspect(*conn, db));
    schemas.push_back(std::move(s));
  }
  return schema::Diff(schemas[0], schemas[1]);
}

}  // namespace scion::cli
