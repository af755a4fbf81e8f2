// Minimal RAII wrapper over the SQLite C API for the metadata store. Internal to control/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error.h"

namespace scion::control::internal {

using Value = std::variant<std::nullptr_t, std::int64_t, std::string>;

class Statement;

// One SQLite connection. Not thread-safe: callers serialize access.
class Sqlite {
 public:
  static Result<std::unique_ptr<Sqlite>> Open(const std::string& path);
  ~Sqlite();
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  // Runs one or more statements without parameters.
  Status Exec(std::string_view sql);

  // Prepares `sql` and binds `params` to ?1, ?2, ...
  Result<Statement> Prepare(std::string_view sql, const std::vector<Value>& params = {});

  // Runs a statement that returns no rows; returns the number of changed rows.
  Result<int> Run(std::string_view sql, const std::vector<Value>& params = {});

  sqlite3* handle() { return db_; }

 private:
  explicit Sqlite(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Advances to the next row: true when a row is available, false at the end.
  Result<bool> Step();

  std::int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Sqlite& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status begun() const { return begun_; }
  Status Commit();

 private:
  Sqlite& db_;
  Status begun_;
  bool done_ = false;
};

}  // namespace scion::control::internal
