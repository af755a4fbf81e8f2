#include "control/internal/sqlite.h"

#include <fmt/format.h>

namespace scion::control::internal {
namespace {

std::unexpected<Error> SqliteError(sqlite3* db, std::string_view what) {
  int code = sqlite3_extended_errcode(db);
  ErrorCode ec = ErrorCode::kInternal;
  if ((code & 0xff) == SQLITE_CONSTRAINT) ec = ErrorCode::kAlreadyExists;
  if ((code & 0xff) == SQLITE_BUSY) ec = ErrorCode::kUnavailable;
  return MakeError(ec, fmt::format("metadata store: {}: {}", what, sqlite3_errmsg(db)));
}

}  // namespace

Result<std::unique_ptr<Sqlite>> Sqlite::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return MakeError(ErrorCode::kInternal, fmt::format("cannot open metadata store {}: {}", path, msg));
  }
  sqlite3_busy_timeout(db, 5000);
  auto out = std::unique_ptr<Sqlite>(new Sqlite(db));
  SCION_TRY(out->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  return out;
}

Sqlite::~Sqlite() { sqlite3_close_v2(db_); }

Status Sqlite::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return MakeError(ErrorCode::kInternal, fmt::format("metadata store: {}", msg));
  }
  return Ok();
}

Result<Statement> Sqlite::Prepare(std::string_view sql, const std::vector<Value>& params) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "prepare");
  }
  Statement out(db_, stmt);
  for (std::size_t i = 0; i < params.size(); ++i) {
    int idx = static_cast<int>(i + 1);
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(params[i])) {
      rc = sqlite3_bind_null(stmt, idx);
    } else if (auto* n = std::get_if<std::int64_t>(&params[i])) {
      rc = sqlite3_bind_int64(stmt, idx, *n);
    } else {
      const auto& s = std::get<std::string>(params[i]);
      rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return SqliteError(db_, "bind");
  }
  return out;
}

Result<int> Sqlite::Run(std::string_view sql, const std::vector<Value>& params) {
  SCION_ASSIGN_OR_RETURN(auto stmt, Prepare(sql, params));
  SCION_ASSIGN_OR_RETURN(bool row, stmt.Step());
  (void)row;
  return sqlite3_changes(db_);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, "step");
}

std::string Statement::Text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

Transaction::Transaction(Sqlite& db) : db_(db), begun_(db.Exec("BEGIN IMMEDIATE")) {}

Transaction::~Transaction() {
  if (begun_ && !done_) (void)db_.Exec("ROLLBACK");
}

Status Transaction::Commit() {
  SCION_TRY(begun_);
  SCION_TRY(db_.Exec("COMMIT"));
  done_ = true;
  return Ok();
}

}  // namespace scion::control::internal
