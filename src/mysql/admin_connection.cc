#include "mysql/admin_connection.h"

#include <mysql.h>
#include <errmsg.h>

#include <fmt/format.h>

namespace scion::mysql {

Result<std::unique_ptr<AdminConnection>> AdminConnection::Connect(const ConnectOptions& options) {
  MYSQL* handle = mysql_init(nullptr);
  if (handle == nullptr) return MakeError(ErrorCode::kInternal, "out of memory creating a MariaDB client");
  unsigned timeout_s = static_cast<unsigned>(std::max<long>(1, options.timeout.count() / 1000));
  mysql_optionsv(handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
  unsigned read_s = timeout_s;
  if (options.read_timeout) {
    read_s = options.read_timeout->count() <= 0 ? 0 : static_cast<unsigned>(std::max<long>(1, options.read_timeout->count() / 1000));
  }
  mysql_optionsv(handle, MYSQL_OPT_READ_TIMEOUT, &read_s);  // 0: none
  mysql_optionsv(handle, MYSQL_OPT_WRITE_TIMEOUT, &timeout_s);
  unsigned protocol = MYSQL_PROTOCOL_SOCKET;
  mysql_optionsv(handle, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_optionsv(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const char* db = options.database.empty() ? nullptr : options.database.c_str();
  if (mysql_real_connect(handle, nullptr, options.user.c_str(), options.password.c_str(), db, 0,
                         options.unix_socket.c_str(), 0) == nullptr) {
    std::string reason = mysql_error(handle);
    mysql_close(handle);
    return MakeError(ErrorCode::kBackendUnavailable,
                     fmt::format("cannot connect to MariaDB at {}: {}", options.unix_socket, reason));
  }
  return std::unique_ptr<AdminConnection>(new AdminConnection(handle));
}

AdminConnection::~AdminConnection() { mysql_close(handle_); }

template <typename T>
Result<T> AdminConnection::Fail(std::string_view sql) {
  last_errno_ = mysql_errno(handle_);
  bool lost = last_errno_ == CR_SERVER_GONE_ERROR || last_errno_ == CR_SERVER_LOST ||
              last_errno_ == CR_CONNECTION_ERROR;
  std::string shown(sql.substr(0, 200));
  return MakeError(lost ? ErrorCode::kBackendUnavailable : ErrorCode::kInvalidArgument,
                   fmt::format("MariaDB error {}: {} (in: {})", last_errno_, mysql_error(handle_), shown));
}

Status AdminConnection::Execute(std::string_view sql) {
  last_errno_ = 0;
  affected_rows_ = 0;
  if (mysql_real_query(handle_, sql.data(), sql.size()) != 0) return Fail<void>(sql);
  MYSQL_RES* res = mysql_store_result(handle_);
  if (res != nullptr) {
    mysql_free_result(res);
  } else if (auto n = mysql_affected_rows(handle_); n != static_cast<my_ulonglong>(-1)) {
    affected_rows_ = n;
  }
  return Ok();
}

Result<QueryResult> AdminConnection::Query(std::string_view sql) {
  last_errno_ = 0;
  if (mysql_real_query(handle_, sql.data(), sql.size()) != 0) return Fail<QueryResult>(sql);
  MYSQL_RES* res = mysql_store_result(handle_);
  QueryResult out;
  if (res == nullptr) {
    if (mysql_field_count(handle_) != 0) return Fail<QueryResult>(sql);
    return out;
  }
  unsigned n = mysql_num_fields(res);
  MYSQL_FIELD* fields = mysql_fetch_fields(res);
  for (unsigned i = 0; i < n; ++i) out.columns.emplace_back(fields[i].name);
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    Row r;
    r.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
      if (row[i] == nullptr) {
        r.emplace_back(std::nullopt);
      } else {
        r.emplace_back(std::string(row[i], lengths[i]));
      }
    }
    out.rows.push_back(std::move(r));
  }
  mysql_free_result(res);
  return out;
}

}  // namespace scion::mysql
