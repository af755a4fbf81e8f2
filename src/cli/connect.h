// `scion connect` and `scion shell`: a short-lived branch password, a loopback listener that
// forwards to the gateway over verified TLS, and optionally a command or the mariadb client
// run against it.
#pragma once

#include <string>

#include "api/client.h"
#include "base/error.h"

namespace scion::cli {

struct ConnectRequest {
  std::string database;
  std::string branch;
  std::string branch_path;  // API path of the branch
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string role = "admin";
  std::string execute;  // run this command with DATABASE_URL set, then exit with its status
  bool shell = false;   // run the mariadb (or mysql) client, then exit with its status
};

// Runs until interrupted (or until the command/shell ends); returns the process exit code. The
// password it creates is renewed while it runs and deleted on the way out.
Result<int> RunConnect(const api::Client& client, const ConnectRequest& req);

}  // namespace scion::cli
