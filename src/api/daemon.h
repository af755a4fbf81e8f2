// `scion server`: the daemon's lifecycle (control plane + HTTP API) until SIGINT/SIGTERM.
#pragma once

#include <filesystem>
#include <string>

namespace scion::api {

inline constexpr const char* kDefaultHttpAddr = "127.0.0.1:8484";

struct DaemonOptions {
  std::filesystem::path data_dir;
  std::string http_addr = kDefaultHttpAddr;
  std::string mariadbd = "mariadbd";
  std::string install_db = "mariadb-install-db";
};

// Runs the daemon in the foreground; returns the process exit code (0 after a clean shutdown).
// Must be called before any other thread is started (it blocks SIGINT/SIGTERM for sigwait).
int RunDaemon(const DaemonOptions& options);

// The version string of this build.
const char* Version();

}  // namespace scion::api
