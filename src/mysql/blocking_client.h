// A blocking MySQL-protocol client written on Scion's own codec (no Connector/C): handshake,
// mysql_native_password (with auth switch), text queries, and raw packet access for commands
// such as COM_BINLOG_DUMP whose answers are a stream of packets.
//
// Not thread-safe, except `Shutdown()`, which may be called from another thread to unblock a
// read in progress.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "mysql/packet_channel.h"
#include "mysql/protocol.h"

namespace scion::mysql {

struct ClientOptions {
  std::string endpoint;  // "/path/to/socket" or "host:port"
  std::string user;
  std::string password;
  std::string database;
  std::chrono::milliseconds timeout{10000};
};

struct TextResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::uint64_t affected_rows = 0;
};

class BlockingClient {
 public:
  static Result<std::unique_ptr<BlockingClient>> Connect(const ClientOptions& options);

  // Runs one statement; a result set comes back as rows, an OK as affected_rows.
  // A server error is kInvalidArgument with the server's code in `last_error()`.
  Result<TextResult> Query(std::string_view sql);

  // Sends a command packet (sequence restarts at 0).
  Status SendCommand(std::string_view payload);
  // Reads the next packet of the current command's answer.
  Result<std::string> ReadPacket() { return channel_->Read(); }

  const ServerError& last_error() const { return last_error_; }
  std::uint32_t connection_id() const { return connection_id_; }
  const std::string& server_version() const { return server_version_; }
  PacketChannel& channel() { return *channel_; }
  void Shutdown() { channel_->Shutdown(); }

 private:
  explicit BlockingClient(std::unique_ptr<PacketChannel> ch) : channel_(std::move(ch)) {}
  Status Handshake(const ClientOptions& options);

  std::unique_ptr<PacketChannel> channel_;
  ServerError last_error_;
  std::uint32_t connection_id_ = 0;
  std::string server_version_;
};

}  // namespace scion::mysql
