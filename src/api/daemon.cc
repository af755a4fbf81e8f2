#include "api/daemon.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api/http_server.h"
#include "api/router.h"
#include "base/files.h"
#include "base/log.h"
#include "control/control_plane.h"

namespace scion::api {

const char* Version() { return SCION_VERSION; }

namespace {

// What the gateway's greeting says: MariaDB's own version (as MariaDB presents it to MySQL
// clients, with the 5.5.5- prefix), so ORMs pick their MariaDB dialect.
std::string MariadbVersion(const std::string& mariadbd) {
  std::string fallback = "5.5.5-10.11-MariaDB-Scion";
  std::string cmd = mariadbd + " --version 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return fallback;
  char buf[512] = {0};
  std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, p);
  ::pclose(p);
  std::string out(buf, n);  // "mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu ..."
  auto at = out.find("Ver ");
  if (at == std::string::npos) return fallback;
  auto end = out.find("-MariaDB", at);
  if (end == std::string::npos) return fallback;
  return "5.5.5-" + out.substr(at + 4, end - at - 4) + "-MariaDB-Scion";
}

// Every gateway client is a socket: take the hard limit on open files, not the (often 1024)
// soft one.
void RaiseFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) spdlog::warn("msg=\"cannot raise the open files limit\"");
}

}  // namespace

int RunDaemon(const DaemonOptions& options) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();

  spdlog::info("msg=\"starting scion server\" version={} data_dir={}", Version(),
               log::Quote(options.data_dir.string()));
  control::ControlOptions co;
  co.data_dir = options.data_dir;
  co.mariadbd = options.mariadbd;
  co.install_db = options.install_db;
  co.sizing = options.sizing;
  auto control = control::ControlPlane::Open(co);
  if (!control) {
    spdlog::error("msg=\"cannot start\" error={}", log::Quote(control.error().ToString()));
    std::fprintf(stderr, "error: %s\n", control.error().ToString().c_str());
    return 1;
  }
  gateway::GatewayOptions gw_options = options.gateway;
  gw_options.tls_dir = options.data_dir / "gateway-tls";
  gw_options.server_version = MariadbVersion(options.mariadbd);
  auto gateway = gateway::Gateway::Start((*control)->directory(), gw_options);
  if (!gateway) {
    spdlog::error("msg=\"cannot start the MySQL gateway\" error={}", log::Quote(gateway.error().ToString()));
    std::fprintf(stderr, "error: %s\n", gateway.error().ToString().c_str());
    (*control)->Shutdown();
    return 1;
  }
  (*control)->SetGatewayAddress((*gateway)->address());
  if (!(*gateway)->ca_file().empty()) {
    auto ca = ReadFile((*gateway)->ca_file());
    if (ca) (*control)->SetGatewayCa(*ca);
  }
  spdlog::info("msg=\"MySQL gateway listening\" addr={} ca={}", (*gateway)->address(),
               log::Quote((*gateway)->ca_file().string()));
  Router router(**control, Version());
  auto http = HttpServer::Start(router, options.http_addr);
  if (!http) {
    std::fprintf(stderr, "error: %s\n", http.error().ToString().c_str());
    (*gateway)->Stop();
    (*control)->Shutdown();
    return 1;
  }
  std::string url = "http://" + (*http)->address();
  nlohmann::json info = {{"http_url", url},
                         {"mysql_addr", (*gateway)->address()},
                         {"ca_file", (*gateway)->ca_file().string()},
                         {"pid", ::getpid()},
                         {"version", Version()}};
  auto written = WriteFileAtomic(options.data_dir / "server.json", info.dump() + "\n", 0600);
  if (!written) spdlog::warn("msg=\"cannot write server.json\" error={}", log::Quote(written.error().message));
  spdlog::info("msg=\"API listening\" url={}", url);
  if (const auto& token = (*control)->new_admin_token()) {
    std::printf(
        "\nScion is initialized. Admin service token (shown once; also saved in %s):\n\n  %s\n\n"
        "Log in with:\n\n  scion auth login --server %s --token %s\n\n",
        (options.data_dir / "admin-token").c_str(), token->c_str(), url.c_str(), token->c_str());
  }
  std::printf("scion server %s listening on %s, MySQL gateway on %s (data folder %s)\n", Version(), url.c_str(),
              (*gateway)->address().c_str(), options.data_dir.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("msg=\"shutting down\" signal={}", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*http)->Stop();
  (*gateway)->Stop();
  (*control)->Shutdown();
  std::error_code ec;
  std::filesystem::remove(options.data_dir / "server.json", ec);
  spdlog::info("msg=\"stopped\"");
  return 0;
}

}  // namespace scion::api
