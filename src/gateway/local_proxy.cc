#include "gateway/local_proxy.h"

#include <atomic>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <mutex>
#include <thread>

#include "gateway/internal/transport.h"
#include "mysql/auth.h"
#include "mysql/client_handshake.h"
#include "mysql/server_handshake.h"

namespace scion::gateway {
using namespace internal;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

bool IsIpAddress(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

class LocalProxy::Impl {
 public:
  explicit Impl(LocalProxyOptions options) : options_(std::move(options)), tls_(ssl::context::tls_client) {}

  Status Setup() {
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    tls_.set_verify_mode(ssl::verify_peer);
    error_code ec;
    if (options_.ca_pem.empty()) {
      tls_.set_default_verify_paths(ec);
    } else {
      tls_.add_certificate_authority(asio::buffer(options_.ca_pem), ec);
    }
    if (ec) return MakeError(ErrorCode::kInvalidArgument, "cannot load the gateway's CA certificate: " + ec.message());
    auto colon = options_.gateway_address.rfind(':');
    if (colon == std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("bad gateway address \"{}\"", options_.gateway_address));
    }
    gateway_host_ = options_.gateway_address.substr(0, colon);
    gateway_port_ = options_.gateway_address.substr(colon + 1);
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec || !address.is_loopback()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--host {} is not a loopback address", options_.host),
                       "the local proxy accepts clients without a password, so it only listens on loopback");
    }
    for (int port : {options_.port, 0}) {
      acceptor_.close(ec);
      ec = {};
      tcp::endpoint ep(address, static_cast<unsigned short>(port));
      acceptor_.open(ep.protocol(), ec);
      if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor_.bind(ep, ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (!ec) break;
      if (port == 0) return MakeError(ErrorCode::kUnavailable, "cannot listen on a local port: " + ec.message());
      busy_ = true;
    }
    port_ = acceptor_.local_endpoint().port();
    return Ok();
  }

  void Run() {
    asio::co_spawn(ctx_, Accept(), asio::detached);
    thread_ = std::thread([this] { ctx_.run(); });
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    ctx_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  bool busy() const { return busy_; }
  int connections() const { return connections_.load(); }
  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) {
        if (stopped_ || ec == asio::error::operation_aborted) co_return;
        asio::steady_timer pause(ctx_, std::chrono::milliseconds(50));  // e.g. out of file descriptors
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      connections_++;
      asio::co_spawn(ctx_, Serve(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> Serve(tcp::socket socket) {
    TcpTransport local(std::move(socket));
    tcp::socket upstream_socket(ctx_);
    TcpTransport upstream(std::move(upstream_socket));
    auto st = co_await Login(local, upstream);
    if (!st) {
      std::lock_guard lock(mu_);
      last_error_ = st.error().message;
    } else {
      co_await (Pump(local, upstream) || Pump(upstream, local));
    }
    local.Close();
    upstream.Close();
  }

  // Logs in to the gateway for the local client, then tells the local client the outcome.
  awaitable<Status> Login(TcpTransport& local, TcpTransport& upstream) {
    Framed lio(local);
    tcp::resolver resolver(ctx_);
    auto [rec, endpoints] = co_await resolver.async_resolve(gateway_host_, gateway_port_, kNoThrow);
    if (rec) co_return co_await Refuse(lio, 0, "cannot resolve the gateway: " + rec.message());
    auto [cec, ep] = co_await asio::async_connect(upstream.socket(), endpoints, kNoThrow);
    if (cec) co_return co_await Refuse(lio, 0, "cannot reach the gateway: " + cec.message());
    error_code ignored;
    upstream.socket().set_option(tcp::no_delay(true), ignored);
    Framed uio(upstream);
    std::string packet;
    std::uint8_t first = 0, useq = 0;
    SCION_CO_TRY(co_await uio.ReadPacket(packet, first, useq, 1 << 16));
    auto greeting = mysql::ParseGreeting(packet);
    if (!greeting) co_return co_await Refuse(lio, 0, greeting.error().message);

    // The local side: any user, any password.
    mysql::ServerGreeting g;
    g.nonce = mysql::NewNonce();
    // The gateway's own offer, minus TLS: local clients talk to the proxy in the clear.
    g.capabilities = greeting->capabilities & ~mysql::kClientSsl;
    g.server_version = greeting->server_version;
    g.connection_id = greeting->connection_id;
    std::uint8_t lseq = 0;
    SCION_CO_TRY(co_await lio.WritePacket(mysql::BuildGreeting(g), lseq));
    std::uint8_t lfirst = 0;
    SCION_CO_TRY(co_await lio.ReadPacket(packet, lfirst, lseq, 1 << 16));
    ++lseq;
    auto resp = mysql::ParseHandshakeResponse(packet);
    if (!resp || resp->ssl_request) co_return co_await Refuse(lio, lseq, "bad handshake from the local client");

    // The gateway side: TLS, verified, then the branch password.
    std::uint32_t caps = (resp->capabilities & g.capabilities) | mysql::kClientPluginAuth |
                         mysql::kClientPluginAuthLenencData | mysql::kClientSecureConnection;
    ++useq;
    SCION_CO_TRY(co_await uio.WritePacket(mysql::BuildSslRequest(caps, resp->collation), useq));
    std::string host = gateway_host_;
    auto tls_ec = co_await upstream.StartTls(tls_, ssl::stream_base::client, [&host](SSL* ssl) {
      SSL_set1_host(ssl, host.c_str());
      if (!IsIpAddress(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
    });
    if (tls_ec) co_return co_await Refuse(lio, lseq, "TLS with the gateway failed: " + tls_ec.message());
    mysql::LoginRequest req;
    req.capabilities = caps;
    req.collation = resp->collation;
    req.user = options_.username;
    req.database = resp->database;
    req.auth_response = mysql::NativePasswordScramble(options_.password, greeting->nonce);
    SCION_CO_TRY(co_await uio.WritePacket(mysql::BuildHandshakeResponse(req), useq));
    std::uint8_t ufirst = 0;
    SCION_CO_TRY(co_await uio.ReadPacket(packet, ufirst, useq, 1 << 16));
    if (auto sw = mysql::ParseAuthSwitch(packet)) {
      ++useq;
      SCION_CO_TRY(co_await uio.WritePacket(mysql::NativePasswordScramble(options_.password, sw->nonce), useq));
      SCION_CO_TRY(co_await uio.ReadPacket(packet, ufirst, useq, 1 << 16));
    }
    // OK or ERR: the local client gets it with its own sequence id.
    SCION_CO_TRY(co_await lio.WritePacket(packet, lseq));
    if (packet.empty() || packet[0] != 0) {
      mysql::ServerError err;
      mysql::ParseErrPacket(packet, &err);
      co_return MakeError(ErrorCode::kUnauthenticated, "the gateway refused the login: " + err.message);
    }
    if (lio.buffered() != 0 || uio.buffered() != 0) co_return MakeError(ErrorCode::kProtocol, "unexpected data");
    co_return Ok();
  }

  awaitable<Status> Refuse(Framed& lio, std::uint8_t seq, std::string message) {
    co_await lio.WritePacket(mysql::BuildErr(2013, "HY000", "scion connect: " + message), seq);
    co_return MakeError(ErrorCode::kUnavailable, message);
  }

  static awaitable<void> Pump(Transport& from, Transport& to) {
    std::vector<char> buf(64 << 10);
    for (;;) {
      auto [ec, n] = co_await from.ReadSome(asio::buffer(buf));
      if (ec || n == 0) co_return;
      if (co_await to.WriteAll(asio::buffer(buf.data(), n))) co_return;
    }
  }

  LocalProxyOptions options_;
  asio::io_context ctx_{1};
  ssl::context tls_;
  tcp::acceptor acceptor_{ctx_};
  std::string gateway_host_, gateway_port_;
  int port_ = 0;
  bool busy_ = false;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::string last_error_;  // guarded by mu_
};

LocalProxy::LocalProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalProxy::~LocalProxy() { Stop(); }

Result<std::unique_ptr<LocalProxy>> LocalProxy::Start(LocalProxyOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  SCION_TRY(impl->Setup());
  impl->Run();
  return std::unique_ptr<LocalProxy>(new LocalProxy(std::move(impl)));
}

int LocalProxy::port() const { return impl_->port(); }
bool LocalProxy::port_was_busy() const { return impl_->busy(); }
int LocalProxy::connections() const { return impl_->connections(); }
std::string LocalProxy::last_error() const { return impl_->last_error(); }
void LocalProxy::Stop() { impl_->Stop(); }

}  // namespace scion::gateway
