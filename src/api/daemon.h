// `scion server`: the daemon's lifecycle (control plane + HTTP API) until SIGINT/SIGTERM.
#pragma once

#include <filesystem>
#include <string>

#include "fleet/fleet.h"
#include "gateway/gateway.h"

namespace scion::api {

inline constexpr const char* kDefaultHttpAddr = "127.0.0.1:8484";
inline constexpr const char* kDefaultMysqlAddr = "127.0.0.1:3306";

struct DaemonOptions {
  std::filesystem::path data_dir;
  std::string http_addr = kDefaultHttpAddr;
  std::string mariadbd = "mariadbd";
  std::string install_db = "mariadb-install-db";
  fleet::InstanceSizing sizing;
  // The MySQL gateway. `listen` defaults to kDefaultMysqlAddr; TLS material is generated in
  // <data-dir>/gateway-tls unless tls_cert/tls_key are given.
  gateway::GatewayOptions gateway{.listen = kDefaultMysqlAddr};
};

// Runs the daemon in the foreground; returns the process exit code (0 after a clean shutdown).
// Must be called before any other thread is started (it blocks SIGINT/SIGTERM for sigwait).
int RunDaemon(const DaemonOptions& options);

// The version string of this build.
const char* Version();

}  // namespace scion::api
