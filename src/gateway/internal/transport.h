// Coroutine byte streams and MySQL packet framing over them, shared by the gateway's sessions
// and `scion connect`'s local proxy. Internal to the gateway module: it pulls in Asio.
#pragma once

#include <openssl/ssl.h>
#include <poll.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "mysql/protocol.h"

namespace scion::gateway::internal {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using asio::awaitable;
using boost::system::error_code;

inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

template <typename Socket>
awaitable<std::tuple<error_code, std::size_t>> WaitThenReadSocket(Socket& socket, asio::mutable_buffer buf) {
  for (;;) {
    auto [ec] = co_await socket.async_wait(Socket::wait_read, kNoThrow);
    if (ec) co_return std::tuple<error_code, std::size_t>{ec, 0};
    std::size_t n = socket.read_some(buf, ec);
    if (ec != asio::error::would_block && ec != asio::error::try_again) co_return std::tuple{ec, n};
  }
}
inline constexpr std::size_t kFrameHeader = 4;
inline constexpr std::size_t kReadChunk = 64 << 10;  // reads of large packets

// A byte stream with coroutine reads and writes: a client's TCP (possibly TLS) connection or a
// backend's unix socket.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual awaitable<std::tuple<error_code, std::size_t>> ReadSome(asio::mutable_buffer buf) = 0;
  virtual awaitable<error_code> WriteAll(asio::const_buffer buf) = 0;
  // Like ReadSome, for when nothing is expected to be there yet (the peer has not answered):
  // waits for readiness first instead of trying a read that would fail, saving a system call.
  virtual awaitable<std::tuple<error_code, std::size_t>> WaitThenRead(asio::mutable_buffer buf) {
    co_return co_await ReadSome(buf);
  }
  virtual void Cancel() = 0;
  virtual void Close() = 0;
};

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(tcp::socket socket) : tcp_(std::move(socket)) {}

  // Switches to TLS: as the server (a client's SSLRequest) or as the client, verifying the peer
  // against `ctx`'s trust store (and the host name set by `configure`).
  template <typename Configure = void (*)(SSL*)>
  awaitable<error_code> StartTls(ssl::context& ctx, ssl::stream_base::handshake_type side,
                                 Configure configure = [](SSL*) {}) {
    ssl_.emplace(std::move(tcp_), ctx);
    configure(ssl_->native_handle());
    auto [ec] = co_await ssl_->async_handshake(side, kNoThrow);
    co_return ec;
  }
  bool tls() const { return ssl_.has_value(); }
  tcp::socket& socket() { return ssl_ ? ssl_->next_layer() : tcp_; }

  awaitable<std::tuple<error_code, std::size_t>> ReadSome(asio::mutable_buffer buf) override {
    if (ssl_) co_return co_await ssl_->async_read_some(buf, kNoThrow);
    co_return co_await tcp_.async_read_some(buf, kNoThrow);
  }
  awaitable<std::tuple<error_code, std::size_t>> WaitThenRead(asio::mutable_buffer buf) override {
    if (ssl_) co_return co_await ssl_->async_read_some(buf, kNoThrow);
    co_return co_await WaitThenReadSocket(tcp_, buf);
  }
  awaitable<error_code> WriteAll(asio::const_buffer buf) override {
    error_code ec;
    if (ssl_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(*ssl_, buf, kNoThrow);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(tcp_, buf, kNoThrow);
    }
    co_return ec;
  }
  void Cancel() override {
    error_code ec;
    socket().cancel(ec);
  }
  void Close() override {
    error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

 private:
  tcp::socket tcp_;
  std::optional<ssl::stream<tcp::socket>> ssl_;
};

class UnixTransport final : public Transport {
 public:
  explicit UnixTransport(unix_stream::socket socket) : socket_(std::move(socket)) {}
  awaitable<std::tuple<error_code, std::size_t>> ReadSome(asio::mutable_buffer buf) override {
    co_return co_await socket_.async_read_some(buf, kNoThrow);
  }
  awaitable<std::tuple<error_code, std::size_t>> WaitThenRead(asio::mutable_buffer buf) override {
    co_return co_await WaitThenReadSocket(socket_, buf);
  }
  awaitable<error_code> WriteAll(asio::const_buffer buf) override {
    auto [ec, n] = co_await asio::async_write(socket_, buf, kNoThrow);
    co_return ec;
  }
  void Cancel() override {
    error_code ec;
    socket_.cancel(ec);
  }
  void Close() override {
    error_code ec;
    socket_.close(ec);
  }
  // True when the peer closed or sent something unasked (an idle connection must be silent).
  bool PeerSpoke() {
    pollfd p{.fd = socket_.native_handle(), .events = POLLIN, .revents = 0};
    return ::poll(&p, 1, 0) != 0;
  }

 private:
  unix_stream::socket socket_;
};

inline Error IoError(const error_code& ec, std::string_view what) {
  if (ec == asio::error::eof) return Error{ErrorCode::kBackendUnavailable, fmt::format("{}: connection closed", what)};
  return Error{ErrorCode::kBackendUnavailable, fmt::format("{}: {}", what, ec.message())};
}

// MySQL packet framing over a Transport, with a read buffer that the relay also works on.
class Framed {
 public:
  // The buffer starts at `initial` bytes (small for the many idle client sessions) and grows to
  // what packets need.
  explicit Framed(Transport& t, std::size_t initial = 1024) : t_(t) { buf_.resize(initial); }

  // Reads one logical packet (continuation frames joined) into `out`; `seq` gets the sequence id
  // of its last frame, `first_seq` that of its first.
  // `idle`: the peer is not expected to have sent it yet (see Fill).
  awaitable<Status> ReadPacket(std::string& out, std::uint8_t& first_seq, std::uint8_t& seq, std::size_t max,
                               bool idle = false) {
    out.clear();
    bool first = true;
    for (;;) {
      SCION_CO_TRY(co_await Fill(kFrameHeader, idle && first));
      std::size_t len = FrameLength();
      seq = static_cast<std::uint8_t>(buf_[begin_ + 3]);
      if (first) first_seq = seq;
      first = false;
      if (out.size() + len > max) {
        co_return MakeError(ErrorCode::kProtocol, fmt::format("packet larger than the limit of {} bytes", max));
      }
      begin_ += kFrameHeader;
      std::size_t need = len;
      while (need > 0) {
        if (begin_ == end_) SCION_CO_TRY(co_await Fill(std::min(need, kReadChunk)));
        std::size_t n = std::min(need, end_ - begin_);
        out.append(buf_.data() + begin_, n);
        begin_ += n;
        need -= n;
      }
      if (len < mysql::kMaxPacketPayload) co_return Ok();
    }
  }

  // Writes `payload` as one logical packet starting at sequence id `seq`; `seq` ends one past the
  // last frame's id.
  awaitable<Status> WritePacket(std::string_view payload, std::uint8_t& seq) {
    std::string frames;
    frames.reserve(payload.size() + kFrameHeader * (1 + payload.size() / mysql::kMaxPacketPayload));
    for (;;) {
      std::size_t n = std::min(payload.size(), mysql::kMaxPacketPayload);
      AppendHeader(frames, n, seq++);
      frames.append(payload.substr(0, n));
      payload.remove_prefix(n);
      if (n < mysql::kMaxPacketPayload) break;
    }
    co_return co_await WriteRaw(frames);
  }

  awaitable<Status> WriteRaw(std::string_view bytes) {
    auto ec = co_await t_.WriteAll(asio::buffer(bytes.data(), bytes.size()));
    if (ec) co_return std::unexpected(IoError(ec, "write"));
    co_return Ok();
  }

  // Makes at least `n` bytes available in the buffer.
  // `idle`: nothing is expected to be there yet (see Transport::WaitThenRead).
  awaitable<Status> Fill(std::size_t n, bool idle = false) {
    if (end_ - begin_ >= n) co_return Ok();
    if (begin_ > 0 && (begin_ == end_ || begin_ > buf_.size() / 2 || buf_.size() - begin_ < n)) {
      std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(begin_), buf_.begin() + static_cast<std::ptrdiff_t>(end_),
                buf_.begin());
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() < n) buf_.resize(n);
    while (end_ - begin_ < n) {
      std::size_t room = exact_ ? n - (end_ - begin_) : buf_.size() - end_;
      auto [ec, got] = idle ? co_await t_.WaitThenRead(asio::buffer(buf_.data() + end_, room))
                            : co_await t_.ReadSome(asio::buffer(buf_.data() + end_, room));
      idle = false;
      if (ec) co_return std::unexpected(IoError(ec, "read"));
      end_ += got;
    }
    co_return Ok();
  }

  std::size_t FrameLength() const {
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + begin_);
    return p[0] | (p[1] << 8) | (static_cast<std::size_t>(p[2]) << 16);
  }
  std::size_t buffered() const { return end_ - begin_; }
  const char* data() const { return buf_.data() + begin_; }
  void Consume(std::size_t n) { begin_ += n; }
  // Reads no byte beyond the packet asked for: after an SSLRequest the client's TLS handshake
  // follows at once, and those bytes belong to the TLS layer, not to this buffer.
  void set_exact(bool exact) { exact_ = exact; }

  static void AppendHeader(std::string& out, std::size_t len, std::uint8_t seq) {
    out.push_back(static_cast<char>(len & 0xff));
    out.push_back(static_cast<char>((len >> 8) & 0xff));
    out.push_back(static_cast<char>((len >> 16) & 0xff));
    out.push_back(static_cast<char>(seq));
  }

 private:
  Transport& t_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool exact_ = false;
};

}  // namespace scion::gateway::internal
