// Blocking administrative connection to a MariaDB instance (MariaDB Connector/C underneath).
//
// Used by the control plane and the fleet for provisioning, health checks and schema copies —
// never on the client data path, which speaks the protocol itself (see gateway/).
// Not thread-safe: one connection per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "mysql/protocol.h"

struct st_mysql;

namespace scion::mysql {

struct ConnectOptions {
  std::string unix_socket;  // path to the instance's socket
  std::string user;
  std::string password;
  std::string database;     // optional default schema
  std::chrono::milliseconds timeout{5000};  // to connect, and for each read and write
  // When set, how long a statement's reply may take instead (zero: no limit), for connections
  // that run long statements (an index build, a scan of a whole table).
  std::optional<std::chrono::milliseconds> read_timeout;
};

using Row = std::vector<std::optional<std::string>>;

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<Row> rows;
};

class AdminConnection {
 public:
  // Connects, or fails with kBackendUnavailable and the server's reason.
  static Result<std::unique_ptr<AdminConnection>> Connect(const ConnectOptions& options);

  ~AdminConnection();
  AdminConnection(const AdminConnection&) = delete;
  AdminConnection& operator=(const AdminConnection&) = delete;

  // Runs one statement and discards any result. SQL errors come back as kInvalidArgument
  // (kBackendUnavailable when the connection is lost) with MariaDB's errno in `server_errno()`.
  Status Execute(std::string_view sql);

  // Runs one statement that returns rows; NULL is std::nullopt.
  Result<QueryResult> Query(std::string_view sql);

  // The MariaDB error number of the last failed call, 0 if none.
  unsigned server_errno() const { return last_errno_; }
  // Rows the last successful Execute() changed (inserted, deleted, updated), as ROW_COUNT() would
  // say, without another round trip.
  std::uint64_t affected_rows() const { return affected_rows_; }

 private:
  explicit AdminConnection(st_mysql* handle) : handle_(handle) {}
  template <typename T>
  Result<T> Fail(std::string_view sql);

  st_mysql* handle_;
  unsigned last_errno_ = 0;
  std::uint64_t affected_rows_ = 0;
};

}  // namespace scion::mysql
