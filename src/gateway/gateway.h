// The MySQL-protocol front door of `scion server`. Applications log in with a branch password;
// the gateway authenticates them itself (caching_sha2_password and mysql_native_password),
// routes them to the branch's instance over its unix socket with the backend account of the
// password's role, refuses what the guards forbid, and forwards everything else as packets.
//
// Threads: one io_context per I/O thread; a client session and its backend connection live on
// one thread. Backend connections are pooled per (thread, branch, role, capabilities, charset).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "gateway/directory.h"
#include "gateway/login_limiter.h"

namespace scion::gateway {

// What a command did, for Query Insights and other observers.
struct CommandEvent {
  std::string_view database;
  std::string_view branch;
  std::uint8_t command = 0;
  std::string_view sql;  // COM_QUERY and COM_STMT_PREPARE text, else empty
  std::chrono::nanoseconds duration{0};
  std::uint64_t rows = 0;
  bool error = false;
  bool refused = false;  // answered by a guard without reaching MariaDB
};

// Observers of finished commands. Called on I/O threads: must be quick and thread-safe.
class CommandHook {
 public:
  virtual ~CommandHook() = default;
  virtual void OnCommand(const CommandEvent& event) = 0;
};

struct GatewayOptions {
  std::string listen = "127.0.0.1:3306";  // host:port; port 0 picks a free port
  int threads = 0;                         // 0: one per core
  // TLS: generated material lives in `tls_dir` (for `tls_hostnames` besides localhost and
  // 127.0.0.1) unless the user brings a certificate and key (PEM).
  std::filesystem::path tls_dir;
  std::vector<std::string> tls_hostnames;
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  bool require_tls = false;
  std::string server_version = "5.5.5-10.11-MariaDB-Scion";
  int max_client_connections = 10000;
  int max_backend_connections_per_branch = 150;
  int max_idle_backend_connections = 16;  // per thread and pool key
  std::chrono::milliseconds connect_timeout{10000};  // from accept to logged in
  std::chrono::seconds idle_timeout{28800};          // a logged-in client that sends nothing
  std::chrono::milliseconds backend_wait{5000};      // for a free backend connection
  std::size_t max_packet = std::size_t{256} << 20;   // largest command a client may send
  LoginLimits login_limits;
  std::vector<CommandHook*> hooks;  // not owned; must outlive the gateway
};

struct GatewayStats {
  std::uint64_t client_connections = 0;   // open now
  std::uint64_t accepted_total = 0;
  std::uint64_t backend_connections = 0;  // open now, pooled or in use
  std::uint64_t failed_logins = 0;
  std::uint64_t commands = 0;
  std::uint64_t refused = 0;
};

class Gateway {
 public:
  // Prepares TLS, binds `options.listen` and starts serving. `directory` must outlive the gateway.
  static Result<std::unique_ptr<Gateway>> Start(Directory& directory, GatewayOptions options);
  ~Gateway();  // Stop()
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // The bound address, e.g. "127.0.0.1:3306".
  const std::string& address() const;
  // The CA file clients verify the gateway with; empty when the user brought the certificate.
  const std::filesystem::path& ca_file() const;
  GatewayStats stats() const;

  // Closes the listener and every session, then joins the I/O threads. Idempotent.
  void Stop();

  class Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace scion::gateway
