#include "mysql/packet_channel.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "mysql/protocol.h"

namespace scion::mysql {

PacketChannel::~PacketChannel() {
  if (fd_ >= 0) ::close(fd_);
}

void PacketChannel::Shutdown() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Status PacketChannel::ReadFull(char* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    if (read_timeout_.count() > 0) {
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(read_timeout_.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0) {
        return MakeError(ErrorCode::kBackendUnavailable,
                         fmt::format("no data from MariaDB for {} ms", read_timeout_.count()));
      }
    }
    ssize_t r = ::recv(fd_, out + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      return MakeError(ErrorCode::kBackendUnavailable,
                       r == 0 ? std::string("MariaDB closed the connection")
                              : fmt::format("reading from MariaDB: {}", std::strerror(errno)));
    }
    got += static_cast<std::size_t>(r);
  }
  return Ok();
}

Status PacketChannel::WriteFull(std::string_view data) {
  while (!data.empty()) {
    ssize_t w = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      return MakeError(ErrorCode::kBackendUnavailable, fmt::format("writing to MariaDB: {}", std::strerror(errno)));
    }
    data.remove_prefix(static_cast<std::size_t>(w));
  }
  return Ok();
}

Result<std::string> PacketChannel::Read() {
  std::string payload;
  while (true) {
    unsigned char header[4];
    SCION_TRY(ReadFull(reinterpret_cast<char*>(header), 4));
    std::size_t len = header[0] | (header[1] << 8) | (header[2] << 16);
    if (header[3] != seq_) {
      return MakeError(ErrorCode::kProtocol,
                       fmt::format("packet out of order: sequence id {} where {} was expected", header[3], seq_));
    }
    ++seq_;
    if (payload.size() + len > max_payload_) {
      return MakeError(ErrorCode::kProtocol, fmt::format("packet larger than {} bytes", max_payload_));
    }
    std::size_t old = payload.size();
    payload.resize(old + len);
    SCION_TRY(ReadFull(payload.data() + old, len));
    if (len < kMaxPacketPayload) return payload;
  }
}

Status PacketChannel::Write(std::string_view payload) {
  std::string buf;
  while (true) {
    std::size_t len = std::min(payload.size(), kMaxPacketPayload);
    buf.clear();
    buf += static_cast<char>(len & 0xff);
    buf += static_cast<char>((len >> 8) & 0xff);
    buf += static_cast<char>((len >> 16) & 0xff);
    buf += static_cast<char>(seq_++);
    buf.append(payload.substr(0, len));
    SCION_TRY(WriteFull(buf));
    payload.remove_prefix(len);
    // A payload that is an exact multiple of 16 MB - 1 ends with an empty packet.
    if (len < kMaxPacketPayload) return Ok();
  }
}

Result<int> ConnectSocket(const std::string& endpoint, std::chrono::milliseconds timeout) {
  std::string path = endpoint;
  if (path.starts_with("unix:")) path = path.substr(5);
  int fd = -1;
  if (!path.empty() && path[0] == '/') {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
      return MakeError(ErrorCode::kInvalidArgument, "unix socket path too long: " + path);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      int err = errno;
      if (fd >= 0) ::close(fd);
      return MakeError(ErrorCode::kBackendUnavailable, fmt::format("cannot connect to {}: {}", path, std::strerror(err)));
    }
  } else {
    auto colon = endpoint.rfind(':');
    if (colon == std::string::npos) return MakeError(ErrorCode::kInvalidArgument, "endpoint needs host:port: " + endpoint);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string host = endpoint.substr(0, colon), port = endpoint.substr(colon + 1);
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return MakeError(ErrorCode::kBackendUnavailable, fmt::format("cannot resolve {}: {}", host, gai_strerror(rc)));
    }
    int err = 0;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
      err = errno;
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    ::freeaddrinfo(res);
    if (fd < 0) {
      return MakeError(ErrorCode::kBackendUnavailable, fmt::format("cannot connect to {}: {}", endpoint, std::strerror(err)));
    }
  }
  (void)timeout;  // connect on loopback/unix sockets completes or fails at once
  return fd;
}

}  // namespace scion::mysql
