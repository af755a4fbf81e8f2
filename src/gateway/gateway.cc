// The only translation unit of the gateway that includes Asio: the listener, client sessions,
// backend connections and their pools.
#include "gateway/gateway.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <atomic>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/crypto.h"
#include "base/log.h"
#include "base/tcp_listen.h"
#include "gateway/guard.h"
#include "gateway/internal/transport.h"
#include "gateway/tls_material.h"
#include "mysql/auth.h"
#include "mysql/client_handshake.h"
#include "mysql/protocol.h"
#include "mysql/reply.h"
#include "mysql/server_handshake.h"
#include "mysql/wire.h"

namespace scion::gateway {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using asio::awaitable;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using internal::Framed;
using internal::IoError;
using internal::kFrameHeader;
using internal::kNoThrow;
using internal::kReadChunk;
using internal::TcpTransport;
using internal::UnixTransport;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// What the gateway offers clients. CLIENT_LONG_PASSWORD doubles as MariaDB's CLIENT_MYSQL bit:
// clients treat the gateway as a MySQL server and use no MariaDB-only extensions.
constexpr std::uint32_t kServerCapabilities =
    mysql::kClientLongPassword | mysql::kClientFoundRows | mysql::kClientLongFlag | mysql::kClientConnectWithDb |
    mysql::kClientIgnoreSpace | mysql::kClientProtocol41 | mysql::kClientInteractive | mysql::kClientTransactions |
    mysql::kClientSecureConnection | mysql::kClientMultiStatements | mysql::kClientMultiResults |
    mysql::kClientPsMultiResults | mysql::kClientPluginAuth | mysql::kClientConnectAttrs |
    mysql::kClientPluginAuthLenencData | mysql::kClientSessionTrack | mysql::kClientDeprecateEof;

// Client capabilities that change what the server answers or how: the backend connection is
// opened with the same ones, so forwarded replies are exactly what the client expects.
constexpr std::uint32_t kForwardedCapabilities =
    mysql::kClientFoundRows | mysql::kClientLongFlag | mysql::kClientIgnoreSpace | mysql::kClientInteractive |
    mysql::kClientMultiStatements | mysql::kClientMultiResults | mysql::kClientPsMultiResults |
    mysql::kClientSessionTrack | mysql::kClientDeprecateEof;

constexpr std::uint32_t kBackendBaseCapabilities = mysql::kClientLongPassword | mysql::kClientTransactions |
                                                   mysql::kClientPluginAuth | mysql::kClientPluginAuthLenencData;

constexpr std::size_t kHeadBytes = 32;  // what ReplyTracker needs of a packet
constexpr auto kIdleBackendLifetime = 5min;

std::string AccessDenied(std::string_view user, std::string_view host, std::string_view extra = {}) {
  return fmt::format("Access denied for user '{}'@'{}' (using password: YES){}", user, host, extra);
}

// An authenticated connection to a branch's instance.
struct BackendConn {
  explicit BackendConn(unix_stream::socket s) : transport(std::move(s)), io(transport, kReadChunk) {}
  UnixTransport transport;
  Framed io;
  std::string key;
  std::string branch_id;
  std::uint32_t thread_id = 0;  // MariaDB's connection id
  Clock::time_point idle_since;
};

struct Identity {
  Login login;
  GuardPolicy policy;
  std::uint64_t generation = 0;
};

}  // namespace

class Gateway::Impl {
 public:
  Impl(Directory& directory, GatewayOptions options)
      : directory_(directory),
        options_(std::move(options)),
        tls_(ssl::context::tls_server),
        limiter_(options_.login_limits),
        slow_pool_(1) {}

  Status Setup();
  void Run();
  void Stop();

  const std::string& address() const { return address_; }
  const std::filesystem::path& ca_file() const { return ca_file_; }
  GatewayStats Stats() const {
    return {.client_connections = clients_.load(),
            .accepted_total = accepted_.load(),
            .backend_connections = backends_.load(),
            .failed_logins = failed_logins_.load(),
            .commands = commands_.load(),
            .refused = refused_.load()};
  }

  class Session;
  struct Worker;

 private:
  friend class Session;
  Status SetupTls();
  Status Bind();
  awaitable<void> Accept();
  awaitable<void> Sweep(Worker& w);
  awaitable<void> RefuseFull(tcp::socket socket, int limit);
  bool TakeBackendSlot(const std::string& branch_id);
  void ReleaseBackendSlot(const std::string& branch_id);
  void CloseBackend(BackendConn& conn);
  // Closes one pooled connection of `branch_id` on `w` to free its slot; false when none.
  bool EvictIdle(Worker& w, const std::string& branch_id);
  std::optional<std::string> CachedSha2(const std::string& user, const std::string& password_id);
  void RememberSha2(const std::string& user, const std::string& password_id, std::string entry);
  // A slow hash unknown users are checked against, so they cost what known users cost.
  const std::string& DummyHash() {
    std::call_once(dummy_once_, [this] { dummy_hash_ = mysql::SlowHash(RandomHex(16)); });
    return dummy_hash_;
  }
  std::once_flag dummy_once_;
  std::string dummy_hash_;

  Directory& directory_;
  GatewayOptions options_;
  ssl::context tls_;
  bool tls_ready_ = false;
  std::filesystem::path ca_file_;
  LoginLimiter limiter_;
  asio::io_context accept_ctx_{1};
  tcp::acceptor acceptor_{accept_ctx_};
  std::string address_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::size_t next_worker_ = 0;
  asio::thread_pool slow_pool_;  // password hashing, off the I/O threads
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint32_t> next_connection_id_{1};

  std::atomic<std::uint64_t> clients_{0}, accepted_{0}, backends_{0}, failed_logins_{0}, commands_{0}, refused_{0};

  std::mutex slots_mu_;
  std::unordered_map<std::string, int> backend_slots_;  // guarded by slots_mu_; per branch

  // Which backend thread serves each gateway connection id, for KILL. Guarded by registry_mu_.
  struct Registered {
    std::string username;
    std::uint32_t backend_thread = 0;
  };
  std::mutex registry_mu_;
  std::unordered_map<std::uint32_t, Registered> registry_;
  void Register(std::uint32_t id, const std::string& username, std::uint32_t backend_thread) {
    std::lock_guard lock(registry_mu_);
    registry_[id] = {username, backend_thread};
  }
  void Unregister(std::uint32_t id) {
    std::lock_guard lock(registry_mu_);
    registry_.erase(id);
  }
  // The backend thread of gateway connection `id` when it was opened with the same password.
  std::optional<std::uint32_t> BackendThreadOf(std::uint64_t id, const std::string& username) {
    std::lock_guard lock(registry_mu_);
    auto it = registry_.find(static_cast<std::uint32_t>(id));
    if (it == registry_.end() || it->second.username != username || it->second.backend_thread == 0) return std::nullopt;
    return it->second.backend_thread;
  }

  std::mutex cache_mu_;
  // caching_sha2_password's fast-auth cache: username -> (password id, SHA256(SHA256(pw))),
  // filled after a full authentication. Guarded by cache_mu_.
  std::unordered_map<std::string, std::pair<std::string, std::string>> sha2_cache_;
};


struct Gateway::Impl::Worker {
  asio::io_context ctx{1};
  std::list<Session*> sessions;  // touched on this worker's thread only
  std::unordered_map<std::string, std::vector<std::unique_ptr<BackendConn>>> idle;
};

class Gateway::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  enum class Phase { kHandshake, kIdle, kBusy };

  Session(Impl& gw, Worker& worker, tcp::socket socket, std::string peer, std::uint32_t id)
      : gw_(gw), worker_(worker), client_(std::move(socket)), io_(client_), peer_(std::move(peer)), id_(id) {}

  awaitable<void> Run() {
    auto self = shared_from_this();
    auto it = worker_.sessions.insert(worker_.sessions.end(), this);
    phase_since_ = Clock::now();
    if (auto st = co_await Handshake(); st) {
      logged_in_ = true;
      co_await CommandLoop();
    } else {
      spdlog::debug("msg=\"login failed\" peer={} error={}", peer_, log::Quote(st.error().message));
    }
    co_await ReleaseBackend(!backend_broken_ && !backend_not_reusable_);
    gw_.Unregister(id_);
    client_.Close();
    worker_.sessions.erase(it);
    gw_.clients_--;
  }

  // Ends the session from the sweeper (same thread): the pending read or write is cancelled and
  // the client gets `reason` as an error when it can still receive one.
  void Kill(std::string reason) {
    if (kill_reason_) return;
    kill_reason_ = std::move(reason);
    client_.Cancel();
    if (backend_ && phase_ == Phase::kBusy) {
      backend_->transport.Cancel();
      backend_broken_ = true;
    }
  }

  // Called by the sweeper once a second.
  void Check(Clock::time_point now, std::uint64_t generation) {
    if (phase_ == Phase::kHandshake) {
      if (now - phase_since_ > gw_.options_.connect_timeout) Kill("login timed out");
      return;
    }
    if (phase_ != Phase::kIdle) return;
    if (now - phase_since_ > gw_.options_.idle_timeout) {
      Kill("the connection was idle too long");
      return;
    }
    if (Expired()) {
      Kill(ExpiredMessage());
      return;
    }
    if (generation != identity_.generation) {
      if (auto st = Recheck(); !st) Kill(st.error().message);
    }
  }

 private:
  struct CommandResult {
    std::uint64_t rows = 0;
    bool error = false;
    bool refused = false;
    bool close = false;  // end the session after this command (COM_QUIT, failed COM_CHANGE_USER)
  };

  // ---- connection phase ----

  awaitable<Status> Handshake() {
    nonce_ = mysql::NewNonce();
    mysql::ServerGreeting g;
    g.connection_id = id_;
    g.nonce = nonce_;
    g.capabilities = kServerCapabilities | (gw_.tls_ready_ ? mysql::kClientSsl : 0);
    g.server_version = gw_.options_.server_version;
    g.auth_plugin = "caching_sha2_password";
    std::uint8_t seq = 0;
    SCION_CO_TRY(co_await io_.WritePacket(mysql::BuildGreeting(g), seq));

    std::string payload;
    std::uint8_t first_seq = 0;
    io_.set_exact(true);
    SCION_CO_TRY(co_await io_.ReadPacket(payload, first_seq, seq, 64 << 10));
    io_.set_exact(false);
    auto resp = mysql::ParseHandshakeResponse(payload);
    if (resp && resp->ssl_request) {
      if (!gw_.tls_ready_ || io_.buffered() != 0) co_return MakeError(ErrorCode::kProtocol, "unexpected SSLRequest");
      if (auto ec = co_await client_.StartTls(gw_.tls_, ssl::stream_base::server); ec) {
        co_return MakeError(ErrorCode::kProtocol, fmt::format("TLS handshake failed: {}", ec.message()));
      }
      SCION_CO_TRY(co_await io_.ReadPacket(payload, first_seq, seq, 64 << 10));
      resp = mysql::ParseHandshakeResponse(payload);
    }
    ++seq;
    if (!resp) {
      co_await SendError(1043, "08S01", "Bad handshake", seq);
      co_return std::unexpected(resp.error());
    }
    if (gw_.options_.require_tls && !client_.tls()) {
      co_await SendError(3159, "HY000",
                         "Connections using insecure transport are prohibited: this gateway requires TLS "
                         "(connect with --ssl, or ssl-mode=REQUIRED / sslaccept=strict in a connection string)",
                         seq);
      co_return MakeError(ErrorCode::kUnauthenticated, "TLS required");
    }
    caps_ = resp->capabilities & (kServerCapabilities | mysql::kClientSsl);
    collation_ = resp->collation ? resp->collation : mysql::kCollationUtf8mb4;
    if (int wait = gw_.limiter_.RetryAfter(peer_host(), resp->user, Clock::now()); wait > 0) {
      co_await SendError(1045, "28000",
                         AccessDenied(resp->user, peer_host(),
                                      fmt::format(": too many failed logins, try again in {} s", wait)),
                         seq);
      co_return MakeError(ErrorCode::kUnauthenticated, "rate limited");
    }
    auto login = co_await Authenticate(resp->user, resp->auth_plugin, resp->auth_response, seq);
    SCION_CO_TRY(co_await Admit(login, resp->user, resp->database, seq));
    co_return co_await io_.WritePacket(mysql::BuildOk(0, 0, mysql::kServerStatusAutocommit), seq);
  }

  // Checks a password for `user`. Sends the auth-more-data and auth-switch packets the exchange
  // needs (advancing `seq`) but not the final OK or ERR.
  awaitable<Result<Login>> Authenticate(const std::string& user, const std::string& plugin,
                                        const std::string& response, std::uint8_t& seq) {
    auto login = gw_.directory_.FindLogin(user);
    if (plugin == "caching_sha2_password") {
      auto entry = login ? gw_.CachedSha2(user, login->password_id) : std::nullopt;
      if (entry && mysql::CheckCachingSha2Scramble(response, nonce_, *entry)) {
        const char fast_ok[] = {0x01, 0x03};
        SCION_CO_TRY(co_await io_.WritePacket(std::string_view(fast_ok, 2), seq));
        co_return *login;
      }
      // No cached entry or a mismatch, known user or not: the same full authentication over
      // TLS (against a dummy hash for unknown users), the same auth switch without it.
      if (client_.tls()) co_return co_await FullAuthentication(login, user, seq);
    } else if (plugin == "mysql_native_password" && response.size() == 20) {
      if (login && mysql::CheckNativeScramble(response, nonce_, login->native_verifier)) co_return *login;
      co_return std::unexpected(Deny(user));
    }
    // Anything else (no cached entry without TLS, another plugin, an unknown user): ask for
    // mysql_native_password with a fresh nonce, the same way for known and unknown users.
    std::string fresh = mysql::NewNonce();
    SCION_CO_TRY(co_await io_.WritePacket(mysql::BuildAuthSwitch("mysql_native_password", fresh), seq));
    std::string answer;
    std::uint8_t first_seq = 0;
    SCION_CO_TRY(co_await io_.ReadPacket(answer, first_seq, seq, 1024));
    ++seq;
    if (login && answer.size() == 20 && mysql::CheckNativeScramble(answer, fresh, login->native_verifier)) {
      co_return *login;
    }
    co_return std::unexpected(Deny(user));
  }

  Error Deny(std::string_view user) const { return Error{ErrorCode::kUnauthenticated, AccessDenied(user, peer_host())}; }

  // caching_sha2_password's full authentication: over TLS the client sends the password itself,
  // checked against the slow hash on the hashing pool; success fills the fast-auth cache.
  awaitable<Result<Login>> FullAuthentication(const Result<Login>& login, const std::string& user,
                                              std::uint8_t& seq) {
    const char perform_full[] = {0x01, 0x04};
    SCION_CO_TRY(co_await io_.WritePacket(std::string_view(perform_full, 2), seq));
    std::string password;
    std::uint8_t first_seq = 0;
    SCION_CO_TRY(co_await io_.ReadPacket(password, first_seq, seq, 1024));
    ++seq;
    if (!password.empty() && password.back() == '\0') password.pop_back();
    // Hop to the hashing pool and back: the slow hash must not stall this I/O thread.
    auto executor = co_await asio::this_coro::executor;
    co_await asio::post(asio::bind_executor(gw_.slow_pool_.get_executor(), asio::use_awaitable));
    bool ok = mysql::CheckSlowHash(password, login ? login->slow_hash : gw_.DummyHash()) && login.has_value();
    co_await asio::post(asio::bind_executor(executor, asio::use_awaitable));
    if (!ok) co_return std::unexpected(Deny(user));
    gw_.RememberSha2(login->username, login->password_id, mysql::CachingSha2CacheEntry(password));
    co_return *login;
  }

  // After a password check: refuses failures, expired passwords, another database and branches
  // that are not available; on success the session takes the login's identity.
  awaitable<Status> Admit(const Result<Login>& login, const std::string& user, const std::string& database,
                          std::uint8_t& seq) {
    if (!login) {
      gw_.failed_logins_++;
      gw_.limiter_.RecordFailure(peer_host(), user, Clock::now());
      co_await SendError(1045, "28000", login.error().message, seq);
      co_return std::unexpected(login.error());
    }
    std::uint64_t generation = gw_.directory_.Generation();
    if (login->expires_at != 0 && login->expires_at <= NowMillis()) {
      co_await SendError(1045, "28000",
                         AccessDenied(user, peer_host(),
                                      fmt::format(": the password expired (renew it: scion password renew {} {} {})",
                                                  login->database, login->branch, login->password_id)),
                         seq);
      co_return MakeError(ErrorCode::kUnauthenticated, "password expired");
    }
    if (!database.empty() && database != login->database) {
      co_await SendError(1044, "42000",
                         fmt::format("Access denied for user '{}'@'{}' to database '{}' (this password is for "
                                     "database '{}')",
                                     user, peer_host(), database, login->database),
                         seq);
      co_return MakeError(ErrorCode::kPermissionDenied, "wrong database");
    }
    auto backend = gw_.directory_.BackendFor(login->branch_id, login->role);
    if (!backend) {
      co_await SendError(1105, "HY000",
                         fmt::format("branch {} of database {} is not available: {}", login->branch, login->database,
                                     backend.error().message),
                         seq);
      co_return std::unexpected(backend.error());
    }
    gw_.Register(id_, login->username, 0);
    identity_ = Identity{.login = *login,
                         .policy = {.safe_migrations = backend->safe_migrations,
                                    .branch = login->branch,
                                    .database = login->database},
                         .generation = generation};
    co_return Ok();
  }

  // ---- command phase ----

  awaitable<void> CommandLoop() {
    std::string payload;
    for (;;) {
      if (kill_reason_) {  // killed while not waiting on the client (e.g. hashing a password)
        co_await SendKilled();
        co_return;
      }
      SetPhase(Phase::kIdle);
      std::uint8_t first_seq = 0, seq = 0;
      auto read = co_await io_.ReadPacket(payload, first_seq, seq, gw_.options_.max_packet, /*idle=*/true);
      if (kill_reason_) {
        co_await SendKilled();
        co_return;
      }
      if (!read) {
        if (read.error().code == ErrorCode::kProtocol) {
          std::uint8_t s = seq + 1;
          co_await SendError(1153, "08S01", read.error().message, s);
        }
        co_return;
      }
      SetPhase(Phase::kBusy);
      if (first_seq != 0 || payload.empty()) {
        std::uint8_t s = seq + 1;
        co_await SendError(1156, "08S01", "Got packets out of order", s);
        co_return;
      }
      if (!co_await BeforeCommand(seq)) co_return;
      auto start = Clock::now();
      CommandResult result;
      auto st = co_await Dispatch(payload, seq, result);
      gw_.commands_++;
      if (!gw_.options_.hooks.empty()) Notify(payload, Clock::now() - start, result);
      if (!st || result.close) {
        if (!st) spdlog::debug("msg=\"session ended\" peer={} error={}", peer_, log::Quote(st.error().message));
        co_return;
      }
    }
  }

  // The checks at the start of each command: revoked or expired password, changed branch flags.
  awaitable<bool> BeforeCommand(std::uint8_t last_seq) {
    std::string why;
    if (Expired()) {
      why = ExpiredMessage();
    } else if (gw_.directory_.Generation() != identity_.generation) {
      if (auto st = Recheck(); !st) why = st.error().message;
    }
    if (why.empty()) co_return true;
    kill_reason_ = why;
    co_await SendKilled(static_cast<std::uint8_t>(last_seq + 1));
    co_return false;
  }

  awaitable<Status> Dispatch(const std::string& payload, std::uint8_t last_seq, CommandResult& result) {
    std::uint8_t cmd = static_cast<std::uint8_t>(payload[0]);
    std::uint8_t seq = last_seq + 1;
    switch (cmd) {
      case mysql::kComQuit:
        result.close = true;
        co_return Ok();
      case mysql::kComPing:
        if (!backend_) co_return co_await io_.WritePacket(mysql::BuildOk(0, 0, mysql::kServerStatusAutocommit), seq);
        break;
      case mysql::kComChangeUser:
        co_return co_await ChangeUser(payload, result);
      case mysql::kComProcessKill:
        if (payload.size() >= 5) {
          mysql::ByteReader r(std::string_view(payload).substr(1));
          co_return co_await Kill({.query_only = false, .connection_id = r.U32()}, last_seq, result);
        }
        break;
      case mysql::kComQuery:
      case mysql::kComStmtPrepare:
        if (auto refusal = CheckStatement(std::string_view(payload).substr(1), identity_.policy)) {
          // A lone KILL in a query is translated; only KILL texts are lexed a second time.
          if (refusal->kill && cmd == mysql::kComQuery) {
            if (auto kill = ParseKill(std::string_view(payload).substr(1))) {
              co_return co_await Kill(*kill, last_seq, result);
            }
          }
          gw_.refused_++;
          result.refused = result.error = true;
          co_return co_await SendError(refusal->code, refusal->sql_state, refusal->message, seq);
        }
        break;
      case mysql::kComSetOption:
        // Changes the connection's multi-statements capability, which COM_RESET_CONNECTION
        // does not restore: this backend connection is not pooled afterwards.
        backend_not_reusable_ = true;
        break;
      case mysql::kComInitDb:
      case mysql::kComFieldList:
      case mysql::kComStatistics:
      case mysql::kComStmtExecute:
      case mysql::kComStmtSendLongData:
      case mysql::kComStmtClose:
      case mysql::kComStmtReset:
      case mysql::kComStmtFetch:
      case mysql::kComResetConnection:
        break;
      default:
        result.error = true;
        co_return co_await SendError(
            1047, "08S01", fmt::format("Unknown command: the gateway does not forward command 0x{:02x}", cmd), seq);
    }
    co_return co_await Forward(payload, cmd, seq, result);
  }

  // KILL by a gateway connection id: translated to the backend thread serving that connection,
  // allowed for connections opened with the same password (MariaDB lets a user kill its own).
  awaitable<Status> Kill(const KillStatement& kill, std::uint8_t last_seq, CommandResult& result) {
    std::uint8_t seq = last_seq + 1;
    // The backend first: waiting for one must not separate the lookup from the KILL.
    if (auto st = co_await AcquireBackend(); !st) {
      result.error = true;
      co_return co_await SendError(1105, "HY000", st.error().message, seq);
    }
    auto thread = gw_.BackendThreadOf(kill.connection_id, identity_.login.username);
    if (!thread) {
      result.error = true;
      co_return co_await SendError(1094, "HY000", fmt::format("Unknown thread id: {}", kill.connection_id), seq);
    }
    std::string sql = fmt::format("{}KILL {}{}", static_cast<char>(mysql::kComQuery), kill.query_only ? "QUERY " : "",
                                  *thread);
    co_return co_await Forward(sql, mysql::kComQuery, seq, result);
  }

  awaitable<Status> Forward(const std::string& payload, std::uint8_t cmd, std::uint8_t reply_seq,
                            CommandResult& result) {
    if (auto st = co_await AcquireBackend(); !st) {
      result.error = true;
      bool full = st.error().code == ErrorCode::kUnavailable;
      co_return co_await SendError(full ? 1040 : 1105, full ? "08004" : "HY000", st.error().message, reply_seq);
    }
    std::uint8_t backend_seq = 0;
    if (auto st = co_await backend_->io.WritePacket(payload, backend_seq); !st) {
      co_return co_await LostBackend(reply_seq, st);
    }
    auto kind = mysql::ReplyKindOf(cmd);
    if (kind == mysql::ReplyKind::kNone) co_return Ok();
    auto tracker = co_await Relay(kind, reply_seq);
    if (!tracker) {
      backend_broken_ = true;
      co_return std::unexpected(tracker.error());
    }
    result.rows = tracker->rows();
    result.error = tracker->error();
    co_return Ok();
  }

  // Streams the backend's reply to the client frame by frame, as it arrives, until ReplyTracker
  // sees its end. Frames keep their sequence ids: the backend numbered them for the same command.
  awaitable<Result<mysql::ReplyTracker>> Relay(mysql::ReplyKind kind, std::uint8_t reply_seq) {
    mysql::ReplyTracker tracker(kind, (caps_ & mysql::kClientDeprecateEof) != 0);
    Framed& in = backend_->io;
    std::size_t frame_left = 0;  // bytes of the current frame (header included) not yet forwarded
    bool continuation = false;   // the next frame continues a packet of 16 MB or more
    bool done = false;
    bool sent_any = false;
    bool waiting_for_answer = true;  // the backend has only just been sent the command
    for (;;) {
      const char* p = in.data();
      std::size_t avail = in.buffered();
      std::size_t forward = 0;
      while (forward < avail) {
        if (frame_left > 0) {
          std::size_t n = std::min(frame_left, avail - forward);
          forward += n;
          frame_left -= n;
          continue;
        }
        if (done && !continuation) break;
        if (avail - forward < kFrameHeader) break;
        const auto* h = reinterpret_cast<const unsigned char*>(p + forward);
        std::size_t len = h[0] | (h[1] << 8) | (static_cast<std::size_t>(h[2]) << 16);
        std::size_t head = std::min(len, kHeadBytes);
        if (avail - forward < kFrameHeader + head) break;
        if (!continuation) {
          auto end = tracker.OnPacket(std::string_view(p + forward + kFrameHeader, head), len);
          if (!end) co_return std::unexpected(end.error());
          done = *end;
        }
        continuation = len == mysql::kMaxPacketPayload;
        frame_left = kFrameHeader + len;
      }
      if (forward > 0) {
        auto st = co_await io_.WriteRaw(std::string_view(p, forward));
        in.Consume(forward);
        if (!st) co_return std::unexpected(st.error());
        sent_any = true;
      }
      if (done && frame_left == 0 && !continuation) break;
      auto filled = co_await in.Fill(in.buffered() + 1, waiting_for_answer);
      waiting_for_answer = false;
      if (auto st = filled; !st) {
        if (!sent_any && !kill_reason_) co_await LostBackend(reply_seq, st);
        co_return std::unexpected(st.error());
      }
    }
    if (in.buffered() != 0) co_return MakeError(ErrorCode::kProtocol, "the server sent more than its reply");
    co_return tracker;
  }

  awaitable<Status> LostBackend(std::uint8_t seq, const Status& why) {
    backend_broken_ = true;
    co_await SendError(2013, "HY000",
                       fmt::format("Lost connection to branch {} of database {} during the command ({}); the "
                                   "session is closed, reconnect",
                                   identity_.login.branch, identity_.login.database, why.error().message),
                       seq);
    co_return why;
  }

  awaitable<Status> ChangeUser(const std::string& payload, CommandResult& result) {
    mysql::ByteReader r(std::string_view(payload).substr(1));
    std::string user(r.NulString());
    std::string auth(caps_ & mysql::kClientSecureConnection ? r.Bytes(r.U8()) : r.NulString());
    std::string database = r.empty() ? "" : std::string(r.NulString());
    std::uint16_t charset = r.remaining() >= 2 ? r.U16() : collation_;
    std::string plugin =
        (caps_ & mysql::kClientPluginAuth) && !r.empty() ? std::string(r.NulString()) : "mysql_native_password";
    std::uint8_t seq = 1;
    if (!r.ok()) {
      result.close = true;
      co_return co_await SendError(1043, "08S01", "Bad COM_CHANGE_USER packet", seq);
    }
    if (int wait = gw_.limiter_.RetryAfter(peer_host(), user, Clock::now()); wait > 0) {
      result.close = true;
      co_return co_await SendError(
          1045, "28000", AccessDenied(user, peer_host(), fmt::format(": too many failed logins, try again in {} s", wait)),
          seq);
    }
    auto login = co_await Authenticate(user, plugin, auth, seq);
    Identity previous = identity_;
    if (auto st = co_await Admit(login, user, database, seq); !st) {
      result.close = true;  // like MySQL: a failed change of user ends the session
      result.error = true;
      co_return Ok();
    }
    Identity next = identity_;
    identity_ = previous;
    co_await ReleaseBackend(!backend_broken_ && !backend_not_reusable_);
    backend_not_reusable_ = false;
    identity_ = std::move(next);
    collation_ = static_cast<std::uint8_t>(charset ? charset : mysql::kCollationUtf8mb4);
    co_return co_await io_.WritePacket(mysql::BuildOk(0, 0, mysql::kServerStatusAutocommit), seq);
  }

  // ---- backend connections ----

  std::string PoolKey() const {
    return fmt::format("{}/{}/{:x}/{}", identity_.login.branch_id, identity_.login.role, caps_ & kForwardedCapabilities,
                       collation_);
  }

  awaitable<Status> AcquireBackend() {
    if (backend_) co_return Ok();
    backend_broken_ = false;
    backend_not_reusable_ = false;
    std::string key = PoolKey();
    auto& idle = worker_.idle[key];
    while (!idle.empty()) {
      auto conn = std::move(idle.back());
      idle.pop_back();
      if (conn->transport.PeerSpoke()) {
        gw_.CloseBackend(*conn);
        continue;
      }
      backend_ = std::move(conn);
      gw_.Register(id_, identity_.login.username, backend_->thread_id);
      co_return Ok();
    }
    const std::string& branch_id = identity_.login.branch_id;
    auto deadline = Clock::now() + gw_.options_.backend_wait;
    asio::steady_timer timer(worker_.ctx);
    bool asked_others = false;
    while (!gw_.TakeBackendSlot(branch_id)) {
      if (gw_.EvictIdle(worker_, branch_id)) continue;
      if (!asked_others) {
        // Idle connections of the branch pooled by other I/O threads hold slots too: ask those
        // threads to close one each (a pool is only touched by its own thread).
        asked_others = true;
        for (auto& w : gw_.workers_) {
          if (w.get() == &worker_) continue;
          asio::post(w->ctx, [gw = &gw_, w = w.get(), branch_id] { gw->EvictIdle(*w, branch_id); });
        }
      }
      if (Clock::now() >= deadline || kill_reason_) {
        co_return MakeError(ErrorCode::kUnavailable,
                            fmt::format("Too many connections: branch {} of database {} has reached its limit of {} "
                                        "backend connections (scion server --max-backend-connections); close idle "
                                        "connections or raise the limit",
                                        identity_.login.branch, identity_.login.database,
                                        gw_.options_.max_backend_connections_per_branch));
      }
      timer.expires_after(5ms);
      co_await timer.async_wait(kNoThrow);
    }
    auto backend = gw_.directory_.BackendFor(branch_id, identity_.login.role);
    if (!backend) {
      gw_.ReleaseBackendSlot(branch_id);
      co_return MakeError(ErrorCode::kBackendUnavailable,
                          fmt::format("branch {} of database {} is not available: {}", identity_.login.branch,
                                      identity_.login.database, backend.error().message));
    }
    auto raced = co_await (ConnectBackend(*backend) || Timeout(gw_.options_.backend_wait));
    auto conn = raced.index() == 0
                    ? std::move(std::get<0>(raced))
                    : Result<std::unique_ptr<BackendConn>>(std::unexpected(Error{
                          ErrorCode::kBackendUnavailable,
                          "MariaDB did not complete the login in time (is the instance stopped or overloaded?)"}));
    if (!conn) {
      gw_.ReleaseBackendSlot(branch_id);
      co_return MakeError(ErrorCode::kBackendUnavailable,
                          fmt::format("cannot connect to branch {} of database {}: {}", identity_.login.branch,
                                      identity_.login.database, conn.error().message));
    }
    (*conn)->key = std::move(key);
    (*conn)->branch_id = branch_id;
    gw_.backends_++;
    backend_ = std::move(*conn);
    gw_.Register(id_, identity_.login.username, backend_->thread_id);
    co_return Ok();
  }

  awaitable<void> Timeout(std::chrono::milliseconds after) {
    asio::steady_timer timer(worker_.ctx, after);
    co_await timer.async_wait(kNoThrow);
  }

  awaitable<Result<std::unique_ptr<BackendConn>>> ConnectBackend(const Backend& backend) {
    unix_stream::socket socket(worker_.ctx);
    auto [ec] = co_await socket.async_connect(unix_stream::endpoint(backend.unix_socket), kNoThrow);
    if (ec) co_return std::unexpected(IoError(ec, "connect"));
    auto conn = std::make_unique<BackendConn>(std::move(socket));
    std::string packet;
    std::uint8_t first_seq = 0, seq = 0;
    SCION_CO_TRY(co_await conn->io.ReadPacket(packet, first_seq, seq, 1 << 16));
    auto greeting = mysql::ParseGreeting(packet);
    if (!greeting) co_return std::unexpected(greeting.error());
    mysql::LoginRequest req;
    req.capabilities = (kBackendBaseCapabilities | (caps_ & kForwardedCapabilities)) & greeting->capabilities;
    req.collation = collation_;
    req.user = backend.user;
    req.database = backend.schema;
    req.auth_response = mysql::NativePasswordScramble(backend.password, greeting->nonce);
    ++seq;
    SCION_CO_TRY(co_await conn->io.WritePacket(mysql::BuildHandshakeResponse(req), seq));
    SCION_CO_TRY(co_await conn->io.ReadPacket(packet, first_seq, seq, 1 << 16));
    if (auto sw = mysql::ParseAuthSwitch(packet)) {
      ++seq;
      SCION_CO_TRY(co_await conn->io.WritePacket(mysql::NativePasswordScramble(backend.password, sw->nonce), seq));
      SCION_CO_TRY(co_await conn->io.ReadPacket(packet, first_seq, seq, 1 << 16));
    }
    mysql::ServerError err;
    if (mysql::ParseErrPacket(packet, &err)) {
      co_return MakeError(ErrorCode::kBackendUnavailable, fmt::format("MariaDB refused the login: {}", err.message));
    }
    if (packet.empty() || packet[0] != 0) co_return MakeError(ErrorCode::kProtocol, "unexpected answer to the login");
    conn->thread_id = greeting->connection_id;
    co_return conn;
  }

  // Gives the backend connection back: reset (COM_RESET_CONNECTION, then the branch's schema as
  // default database) and pooled when it is healthy, closed otherwise.
  awaitable<void> ReleaseBackend(bool reusable) {
    if (!backend_) co_return;
    auto conn = std::move(backend_);
    gw_.Register(id_, identity_.login.username, 0);
    bool ok = reusable && !gw_.stopped_ && !kill_reason_;
    if (ok) ok = co_await Roundtrip(*conn, std::string(1, static_cast<char>(mysql::kComResetConnection)));
    if (ok) ok = co_await Roundtrip(*conn, static_cast<char>(mysql::kComInitDb) + identity_.login.database);
    auto& idle = worker_.idle[conn->key];
    if (ok && static_cast<int>(idle.size()) < gw_.options_.max_idle_backend_connections) {
      conn->idle_since = Clock::now();
      idle.push_back(std::move(conn));
      co_return;
    }
    gw_.CloseBackend(*conn);
  }

  // Sends a command whose answer is one OK/ERR packet; true on OK.
  static awaitable<bool> Roundtrip(BackendConn& conn, const std::string& command) {
    std::uint8_t seq = 0, first_seq = 0;
    if (!co_await conn.io.WritePacket(command, seq)) co_return false;
    std::string reply;
    if (!co_await conn.io.ReadPacket(reply, first_seq, seq, 1 << 16)) co_return false;
    co_return !reply.empty() && reply[0] == 0 && conn.io.buffered() == 0;
  }

  // ---- helpers ----

  Status Recheck() {
    std::uint64_t generation = gw_.directory_.Generation();
    auto login = gw_.directory_.FindLogin(identity_.login.username);
    if (!login || login->password_id != identity_.login.password_id) {
      return MakeError(ErrorCode::kUnauthenticated, "the password of this connection was deleted");
    }
    identity_.login.expires_at = login->expires_at;
    if (Expired()) return MakeError(ErrorCode::kUnauthenticated, ExpiredMessage());
    auto backend = gw_.directory_.BackendFor(identity_.login.branch_id, identity_.login.role);
    if (!backend) {
      if (backend.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, "the branch of this connection was deleted");
      }
      return Ok();  // instance restarting: keep the flags, check again later
    }
    identity_.policy.safe_migrations = backend->safe_migrations;
    identity_.generation = generation;
    return Ok();
  }

  bool Expired() const {
    return logged_in_ && identity_.login.expires_at != 0 && identity_.login.expires_at <= NowMillis();
  }
  std::string ExpiredMessage() const {
    return fmt::format("the password of this connection expired (renew it: scion password renew {} {} {})",
                       identity_.login.database, identity_.login.branch, identity_.login.password_id);
  }
  static std::int64_t NowMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  awaitable<void> SendKilled(std::uint8_t seq = 0) {
    co_await SendError(1927, "70100", fmt::format("Connection was killed: {}", *kill_reason_), seq);
  }

  awaitable<Status> SendError(std::uint16_t code, std::string_view state, std::string_view message,
                              std::uint8_t seq) {
    co_return co_await io_.WritePacket(mysql::BuildErr(code, state, message), seq);
  }

  void SetPhase(Phase p) {
    phase_ = p;
    phase_since_ = Clock::now();
  }

  void Notify(const std::string& payload, Clock::duration took, const CommandResult& r) {
    std::uint8_t cmd = static_cast<std::uint8_t>(payload[0]);
    bool has_sql = cmd == mysql::kComQuery || cmd == mysql::kComStmtPrepare;
    CommandEvent e{.database = identity_.login.database,
                   .branch = identity_.login.branch,
                   .command = cmd,
                   .sql = has_sql ? std::string_view(payload).substr(1) : std::string_view(),
                   .duration = took,
                   .rows = r.rows,
                   .error = r.error,
                   .refused = r.refused};
    for (auto* hook : gw_.options_.hooks) hook->OnCommand(e);
  }

  std::string_view peer_host() const { return std::string_view(peer_).substr(0, peer_.rfind(':')); }

  Impl& gw_;
  Worker& worker_;
  TcpTransport client_;
  Framed io_;
  std::string peer_;
  std::uint32_t id_;
  std::string nonce_;
  std::uint32_t caps_ = 0;
  std::uint8_t collation_ = mysql::kCollationUtf8mb4;
  bool logged_in_ = false;
  Identity identity_;
  std::unique_ptr<BackendConn> backend_;  // pinned to the session once acquired
  bool backend_broken_ = false;
  bool backend_not_reusable_ = false;  // session state a reset does not undo (COM_SET_OPTION)
  Phase phase_ = Phase::kHandshake;
  Clock::time_point phase_since_;
  std::optional<std::string> kill_reason_;
};

// ---- Impl ----

Status Gateway::Impl::Setup() {
  SCION_TRY(SetupTls());
  SCION_TRY(Bind());
  int n = options_.threads > 0 ? options_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  return Ok();
}

Status Gateway::Impl::SetupTls() {
  std::filesystem::path cert = options_.tls_cert, key = options_.tls_key;
  if (cert.empty() != key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together", "give both, or neither");
  }
  if (cert.empty()) {
    if (options_.tls_dir.empty()) return Ok();  // no TLS
    SCION_ASSIGN_OR_RETURN(TlsFiles files, EnsureTlsMaterial(options_.tls_dir, options_.tls_hostnames));
    cert = files.server_cert;
    key = files.server_key;
    ca_file_ = files.ca_cert;
  }
  SSL_CTX* ctx = tls_.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("cannot load the TLS certificate {}", cert.string()),
                     "check --tls-cert: a PEM certificate (chain)");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("cannot load the TLS key {}", key.string()),
                     "check --tls-key: the PEM private key of --tls-cert");
  }
  tls_ready_ = true;
  return Ok();
}

Status Gateway::Impl::Bind() {
  SCION_ASSIGN_OR_RETURN(address_, ListenTcp(acceptor_, options_.listen, "--mysql-addr", "127.0.0.1:3306"));
  return Ok();
}

void Gateway::Impl::Run() {
  asio::co_spawn(accept_ctx_, Accept(), asio::detached);
  threads_.emplace_back([this] { accept_ctx_.run(); });
  for (auto& w : workers_) {
    asio::co_spawn(w->ctx, Sweep(*w), asio::detached);
    threads_.emplace_back([ctx = &w->ctx] { ctx->run(); });
  }
}

awaitable<void> Gateway::Impl::Accept() {
  while (!stopped_) {
    Worker& w = *workers_[next_worker_++ % workers_.size()];
    auto [ec, socket] = co_await acceptor_.async_accept(w.ctx, kNoThrow);
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) co_return;
      spdlog::warn("msg=\"accept failed\" error={}", log::Quote(ec.message()));
      asio::steady_timer t(accept_ctx_, 50ms);  // e.g. out of file descriptors: do not spin
      co_await t.async_wait(kNoThrow);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto remote = socket.remote_endpoint(ignored);
    std::string peer = fmt::format("{}:{}", remote.address().to_string(), remote.port());
    accepted_++;
    if (clients_.load() >= static_cast<std::uint64_t>(options_.max_client_connections)) {
      asio::co_spawn(w.ctx, RefuseFull(std::move(socket), options_.max_client_connections), asio::detached);
      continue;
    }
    clients_++;
    auto session = std::make_shared<Session>(*this, w, std::move(socket), std::move(peer), next_connection_id_++);
    asio::co_spawn(w.ctx, [session]() { return session->Run(); }, asio::detached);
  }
}

awaitable<void> Gateway::Impl::Sweep(Worker& w) {
  asio::steady_timer timer(w.ctx);
  while (!stopped_) {
    timer.expires_after(1s);
    co_await timer.async_wait(kNoThrow);
    auto now = Clock::now();
    std::uint64_t generation = directory_.Generation();
    std::vector<Session*> sessions(w.sessions.begin(), w.sessions.end());
    for (Session* s : sessions) s->Check(now, generation);
    for (auto& [key, conns] : w.idle) {
      std::erase_if(conns, [&](std::unique_ptr<BackendConn>& c) {
        if (now - c->idle_since < kIdleBackendLifetime && !c->transport.PeerSpoke()) return false;
        CloseBackend(*c);
        return true;
      });
    }
  }
}

bool Gateway::Impl::TakeBackendSlot(const std::string& branch_id) {
  std::lock_guard lock(slots_mu_);
  int& n = backend_slots_[branch_id];
  if (n >= options_.max_backend_connections_per_branch) return false;
  ++n;
  return true;
}

void Gateway::Impl::ReleaseBackendSlot(const std::string& branch_id) {
  std::lock_guard lock(slots_mu_);
  if (--backend_slots_[branch_id] <= 0) backend_slots_.erase(branch_id);
}

void Gateway::Impl::CloseBackend(BackendConn& conn) {
  conn.transport.Close();
  backends_--;
  ReleaseBackendSlot(conn.branch_id);
}

bool Gateway::Impl::EvictIdle(Worker& w, const std::string& branch_id) {
  for (auto& [key, conns] : w.idle) {
    for (auto it = conns.begin(); it != conns.end(); ++it) {
      if ((*it)->branch_id != branch_id) continue;
      CloseBackend(**it);
      conns.erase(it);
      return true;
    }
  }
  return false;
}

std::optional<std::string> Gateway::Impl::CachedSha2(const std::string& user, const std::string& password_id) {
  std::lock_guard lock(cache_mu_);
  auto it = sha2_cache_.find(user);
  if (it == sha2_cache_.end() || it->second.first != password_id) return std::nullopt;
  return it->second.second;
}

void Gateway::Impl::RememberSha2(const std::string& user, const std::string& password_id, std::string entry) {
  std::lock_guard lock(cache_mu_);
  if (sha2_cache_.size() > 100000) sha2_cache_.clear();
  sha2_cache_[user] = {password_id, std::move(entry)};
}

awaitable<void> Gateway::Impl::RefuseFull(tcp::socket socket, int limit) {
  TcpTransport t(std::move(socket));
  Framed io(t);
  std::uint8_t seq = 0;
  co_await io.WritePacket(
      mysql::BuildErr(1040, "08004",
                      fmt::format("Too many connections: the gateway's limit of {} client connections is reached "
                                  "(scion server --max-client-connections)",
                                  limit)),
      seq);
  t.Close();
}

void Gateway::Impl::Stop() {
  if (stopped_.exchange(true)) return;
  asio::post(accept_ctx_, [this] {
    error_code ec;
    acceptor_.close(ec);
  });
  for (auto& w : workers_) {
    asio::post(w->ctx, [w = w.get()] {
      std::vector<Session*> sessions(w->sessions.begin(), w->sessions.end());
      for (Session* s : sessions) s->Kill("the server is shutting down");
    });
  }
  std::this_thread::sleep_for(100ms);  // let sessions tell their clients
  accept_ctx_.stop();
  for (auto& w : workers_) w->ctx.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  slow_pool_.join();
}

// ---- Gateway ----

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() { Stop(); }

Result<std::unique_ptr<Gateway>> Gateway::Start(Directory& directory, GatewayOptions options) {
  auto impl = std::make_unique<Impl>(directory, std::move(options));
  SCION_TRY(impl->Setup());
  impl->Run();
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

const std::string& Gateway::address() const { return impl_->address(); }
const std::filesystem::path& Gateway::ca_file() const { return impl_->ca_file(); }
GatewayStats Gateway::stats() const { return impl_->Stats(); }
void Gateway::Stop() { impl_->Stop(); }

}  // namespace scion::gateway
