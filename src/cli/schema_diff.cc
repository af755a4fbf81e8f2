#include "cli/schema_diff.h"

#include <filesystem>

#include <fmt/format.h>

#include "base/crypto.h"
#include "base/files.h"
#include "fleet/fleet.h"
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
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '*' && !(i + 2 < text.size() && text[i + 2] == '!')) {
      auto end = text.find("*/", i + 2);
      i = end == std::string::npos ? text.size() : end + 1;
      cur += ' ';
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

Result<std::vector<schema::Statement>> OfflineDiff(const std::string& from_file, const std::string& to_file) {
  SCION_ASSIGN_OR_RETURN(std::string from_sql, ReadFile(from_file));
  SCION_ASSIGN_OR_RETURN(std::string to_sql, ReadFile(to_file));
  fs::path dir = fs::temp_directory_path() / ("scion-schema-diff-" + RandomId(8));
  struct Cleanup {
    fs::path dir;
    std::unique_ptr<fleet::Fleet> fleet;
    ~Cleanup() {
      if (fleet) fleet->StopAll();
      fleet.reset();
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir, nullptr};
  fleet::FleetOptions o;
  o.root = dir / "instances";
  o.template_dir = dir / "template";
  auto acc = [](const char* u) { return fleet::Account{u, RandomHex(16)}; };
  o.accounts = {acc("scion_internal"), acc("scion_reader"), acc("scion_writer"), acc("scion_readwriter"),
                acc("scion_admin")};
  SCION_ASSIGN_OR_RETURN(cleanup.fleet, fleet::Fleet::Open(o));
  fleet::InstanceSpec spec{.id = "scratch", .database = "scratch", .server_id = 1};
  SCION_TRY(cleanup.fleet->Create(spec));
  SCION_TRY(cleanup.fleet->Start(spec));
  SCION_ASSIGN_OR_RETURN(auto conn, mysql::AdminConnection::Connect(
                                        {.unix_socket = cleanup.fleet->SocketPath("scratch").string(),
                                         .user = o.accounts.internal.user,
                                         .password = o.accounts.internal.password}));
  std::vector<schema::Schema> schemas;
  for (auto [file, sql, db] : {std::tuple{from_file, &from_sql, "scion_from"}, std::tuple{to_file, &to_sql, "scion_to"}}) {
    SCION_TRY(conn->Execute(fmt::format("CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", db)));
    SCION_TRY(conn->Execute(fmt::format("USE {}", db)));
    for (const auto& stmt : SplitSql(*sql)) {
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
