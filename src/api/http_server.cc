#include "api/http_server.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <poll.h>
#include <sys/socket.h>

#include "base/tcp_listen.h"

#include <mutex>
#include <thread>
#include <vector>

namespace scion::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::size_t kMaxBody = 4 << 20;

class HttpServer::Impl {
 public:
  Impl(Router& router, int threads) : router_(router), ioc_(threads), handlers_(4), acceptor_(ioc_), threads_(threads) {}

  Status Bind(const std::string& address) {
    SCION_ASSIGN_OR_RETURN(address_, ListenTcp(acceptor_, address, "--http-addr", "127.0.0.1:8484"));
    return Ok();
  }

  void Run() {
    asio::co_spawn(ioc_, Accept(), asio::detached);
    for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { ioc_.run(); });
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    asio::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    ioc_.stop();
    for (auto& t : workers_) t.join();
    handlers_.join();
    std::vector<StreamThread> streams;
    {
      std::lock_guard lock(streams_mu_);
      streams.swap(streams_);
    }
    for (auto& s : streams) s.thread.join();
  }

  asio::awaitable<void> Accept() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        spdlog::warn("msg=\"accept failed\" error={}", ec.message());
        continue;
      }
      asio::co_spawn(ioc_, Session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      stream.expires_after(120s);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == http::error::body_limit) {
          co_await Reply(stream, 413, R"({"code":"invalid_params","message":"request body too large"})", false, 11);
        } else if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
                   ec != asio::error::connection_reset && ec != asio::error::eof) {
          co_await Reply(stream, 400, R"({"code":"invalid_params","message":"malformed HTTP request"})", false, 11);
        }
        break;
      }
      auto req = parser.release();
      Request r{std::string(req.method_string()), std::string(req.target()),
                std::string(req[http::field::authorization]), std::move(req.body())};
      // Run the handler off the I/O threads, then come back.
      auto executor = co_await asio::this_coro::executor;
      co_await asio::post(asio::bind_executor(handlers_.get_executor(), asio::use_awaitable));
      Response resp = router_.Handle(r);
      co_await asio::post(asio::bind_executor(executor, asio::use_awaitable));
      if (resp.stream) {
        StartStreaming(stream.release_socket(), std::move(resp.stream));
        co_return;
      }
      bool keep = req.keep_alive();
      bool ok = co_await Reply(stream, resp.status, std::move(resp.body), keep, req.version());
      if (!ok || !keep) break;
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // A streaming answer owns its socket on a thread of its own, writing with blocking calls
  // (nothing else touches that socket once released from the session).
  class SocketSink : public StreamSink {
   public:
    SocketSink(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
    bool Write(std::string_view chunk) override {
      if (chunk.empty()) return Alive();
      std::string framed = fmt::format("{:x}\r\n", chunk.size());
      framed.append(chunk);
      framed += "\r\n";
      return Send(framed) && !stopping_;
    }
    bool Alive() override {
      if (stopping_ || broken_) return false;
      pollfd p{fd_, POLLIN | POLLRDHUP, 0};
      if (::poll(&p, 1, 0) > 0) {
        char c;
        if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) || ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
          broken_ = true;
        }
      }
      return !broken_;
    }
    bool Send(std::string_view data) {
      while (!data.empty() && !broken_) {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        // SO_SNDTIMEO expired: the client is not reading. Keep waiting unless the server stops.
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !stopping_) continue;
        if (n <= 0) {
          broken_ = true;
          break;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
      }
      return !broken_;
    }

   private:
    int fd_;
    const std::atomic<bool>& stopping_;
    bool broken_ = false;
  };

  void StartStreaming(tcp::socket socket, std::function<void(StreamSink&)> producer) {
    std::lock_guard lock(streams_mu_);
    if (stopped_) return;
    // Reap streams that have ended.
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (*it->done) {
        it->thread.join();
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    streams_.push_back({std::thread([this, done, socket = std::move(socket), producer = std::move(producer)]() mutable {
      boost::system::error_code ec;
      socket.non_blocking(false, ec);
      // Blocking sends wake up every second, so a client that stops reading cannot hold the
      // thread past a server shutdown.
      timeval tv{1, 0};
      ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      SocketSink sink(socket.native_handle(), stopped_);
      if (sink.Send("HTTP/1.1 200 OK\r\nServer: scion\r\nContent-Type: application/x-ndjson\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")) {
        producer(sink);
        sink.Send("0\r\n\r\n");
      }
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
      *done = true;
    }), done});
  }

  static asio::awaitable<bool> Reply(beast::tcp_stream& stream, int status, std::string body, bool keep_alive,
                                     unsigned version) {
    http::response<http::string_body> res{static_cast<http::status>(status), version};
    res.set(http::field::server, "scion");
    if (!body.empty()) res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    stream.expires_after(60s);
    auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }

  Router& router_;
  asio::io_context ioc_;
  asio::thread_pool handlers_;
  tcp::acceptor acceptor_;
  int threads_;
  std::vector<std::thread> workers_;
  std::string address_;
  std::atomic<bool> stopped_{false};
  struct StreamThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex streams_mu_;
  std::vector<StreamThread> streams_;  // guarded by streams_mu_
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(Router& router, const std::string& address, int threads) {
  auto impl = std::make_unique<Impl>(router, std::max(1, threads));
  SCION_TRY(impl->Bind(address));
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() { impl_->Stop(); }
const std::string& HttpServer::address() const { return impl_->address_; }

}  // namespace scion::api
