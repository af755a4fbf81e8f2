// Blocking packet I/O over a connected socket: 4-byte headers (3-byte length, sequence id),
// payloads of 16 MB and more split and reassembled, sequence ids checked.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion::mysql {

class PacketChannel {
 public:
  // Takes ownership of a connected socket `fd`.
  explicit PacketChannel(int fd) : fd_(fd) {}
  ~PacketChannel();
  PacketChannel(const PacketChannel&) = delete;
  PacketChannel& operator=(const PacketChannel&) = delete;

  // Reads one logical packet (continuations joined). Fails with kProtocol on a wrong sequence id
  // or a payload above `max_payload`, kBackendUnavailable on EOF, error or timeout.
  Result<std::string> Read();
  Status Write(std::string_view payload);

  // A new command starts at sequence id 0.
  void ResetSequence() { seq_ = 0; }

  // 0 = wait forever.
  void set_read_timeout(std::chrono::milliseconds t) { read_timeout_ = t; }
  void set_max_payload(std::size_t n) { max_payload_ = n; }
  int fd() const { return fd_; }
  // Closes the socket now; later calls fail. Safe to call from another thread to unblock Read().
  void Shutdown();

 private:
  Status ReadFull(char* out, std::size_t n);
  Status WriteFull(std::string_view data);

  int fd_;
  std::uint8_t seq_ = 0;
  std::chrono::milliseconds read_timeout_{0};
  std::size_t max_payload_ = std::size_t{1} << 30;
};

// Connects to "unix:/path", "/path" (a unix socket) or "host:port"; returns the socket fd.
Result<int> ConnectSocket(const std::string& endpoint, std::chrono::milliseconds timeout);

}  // namespace scion::mysql
