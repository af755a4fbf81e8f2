#include "cli/connect.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gateway/local_proxy.h"

extern char** environ;

namespace scion::cli {
namespace {

constexpr int kPasswordTtlSeconds = 3600;

// Renews the password every half ttl until stopped.
class Renewer {
 public:
  Renewer(const api::Client& client, std::string path) : client_(client), path_(std::move(path)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Renewer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(kPasswordTtlSeconds / 2), [this] { return stop_; })) {
      lock.unlock();
      auto r = client_.Post(path_ + "/renew", nlohmann::json::object());
      if (!r) std::fprintf(stderr, "warning: cannot renew the connection's password: %s\n", r.error().message.c_str());
      lock.lock();
    }
  }

  const api::Client& client_;
  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

std::string FindProgram(std::initializer_list<const char*> names) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (const char* name : names) {
    std::size_t start = 0;
    while (start <= dirs.size()) {
      auto end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return {};
}

// Runs argv with DATABASE_URL set and default signal handling; returns its exit code.
int RunChild(const std::vector<std::string>& argv, const std::string& database_url) {
  pid_t pid = ::fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setenv("DATABASE_URL", database_url.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "Error: cannot run %s\n", args[0]);
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

Result<int> RunConnect(const api::Client& client, const ConnectRequest& req) {
  // Block SIGINT/SIGTERM before any thread starts: the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SCION_ASSIGN_OR_RETURN(auto gw, client.Get("/v1/gateway"));
  if (!gw.contains("address") || !gw["address"].is_string()) {
    return MakeError(ErrorCode::kUnavailable, "the Scion server runs no MySQL gateway",
                     "start it with scion server --mysql-addr HOST:PORT");
  }
  std::string ca = gw.value("ca_certificate", nlohmann::json()).is_string() ? gw["ca_certificate"].get<std::string>()
                                                                             : std::string();
  char hostname[256] = "local";
  ::gethostname(hostname, sizeof(hostname) - 1);
  std::string name = fmt::format("scion-connect {}@{} pid {}", std::getenv("USER") ? std::getenv("USER") : "user",
                                 hostname, ::getpid());
  SCION_ASSIGN_OR_RETURN(auto pw, client.Post(req.branch_path + "/passwords",
                                              {{"name", name.substr(0, 64)}, {"role", req.role},
                                               {"ttl", kPasswordTtlSeconds}}));
  std::string password_path = req.branch_path + "/passwords/" + pw.value("id", "");
  auto cleanup = [&] { (void)client.Delete(password_path); };

  auto proxy = gateway::LocalProxy::Start({.host = req.host,
                                           .port = req.port,
                                           .gateway_address = gw["address"].get<std::string>(),
                                           .ca_pem = ca,
                                           .username = pw.value("username", ""),
                                           .password = pw.value("plain_text", "")});
  if (!proxy) {
    cleanup();
    return std::unexpected(proxy.error());
  }
  int port = (*proxy)->port();
  if ((*proxy)->port_was_busy()) {
    std::fprintf(stderr, "Port %d is in use; listening on %s:%d instead.\n", req.port, req.host.c_str(), port);
  }
  std::string url = fmt::format("mysql://root@{}:{}/{}", req.host, port, req.database);
  int rc = 0;
  {
    Renewer renewer(client, password_path);
    if (req.shell) {
      std::string program = FindProgram({"mariadb", "mysql"});
      if (program.empty()) {
        cleanup();
        return MakeError(ErrorCode::kFailedPrecondition, "neither mariadb nor mysql is installed",
                         "install the client (apt-get install mariadb-client), or use scion connect");
      }
      rc = RunChild({program, "-h", req.host, "-P", std::to_string(port), "-u", "root", "--skip-ssl", req.database},
                    url);
    } else if (!req.execute.empty()) {
      std::fprintf(stderr, "Running `%s` with DATABASE_URL=%s\n", req.execute.c_str(), url.c_str());
      rc = RunChild({"/bin/sh", "-c", req.execute}, url);
    } else {
      std::printf(
          "Secure connection to database %s and branch %s is established!\n\n"
          "Local address to connect your application: %s:%d (press ctrl-c to quit)\n"
          "  mariadb -h %s -P %d -u root %s\n  DATABASE_URL=%s\n",
          req.database.c_str(), req.branch.c_str(), req.host.c_str(), port, req.host.c_str(), port,
          req.database.c_str(), url.c_str());
      std::fflush(stdout);
      int sig = 0;
      ::sigwait(&signals, &sig);
    }
  }
  (*proxy)->Stop();
  cleanup();
  return rc;
}

}  // namespace scion::cli
