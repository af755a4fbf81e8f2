// A throwaway MariaDB instance in a temporary folder, for work that needs a real server but no
// platform: `scion schema diff`, integration tests, benchmarks. Same configuration as a branch
// instance (template, init file, binlog settings); everything is removed when it goes away.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "base/error.h"
#include "fleet/fleet.h"
#include "mysql/admin_connection.h"

namespace scion::fleet {

struct ScratchOptions {
  std::string database = "scratch";  // the schema the instance is made for
  std::uint32_t server_id = 1;
  std::chrono::milliseconds supervise_interval{250};
  std::chrono::milliseconds max_backoff{30000};
};

class ScratchInstance {
 public:
  // Makes a template with mariadb-install-db (about half a second), then starts the instance.
  static Result<std::unique_ptr<ScratchInstance>> Start(ScratchOptions options = {});
  ~ScratchInstance();  // stops the instance and removes its folder
  ScratchInstance(const ScratchInstance&) = delete;
  ScratchInstance& operator=(const ScratchInstance&) = delete;

  // A connection with the internal account (all privileges), optionally to `database`.
  Result<std::unique_ptr<mysql::AdminConnection>> Connect(const std::string& database = "") const;

  // The same options as Connect() uses, e.g. for a replication client.
  mysql::ConnectOptions InternalConnectOptions(const std::string& database = "") const;

  std::string socket_path() const { return fleet_->SocketPath(kId).string(); }
  const Accounts& accounts() const { return fleet_->accounts(); }
  // The fleet holding the instance (id "scratch"), for tests that crash or restart it.
  Fleet& fleet() { return *fleet_; }
  static constexpr const char* kId = "scratch";

 private:
  ScratchInstance() = default;
  std::filesystem::path dir_;
  std::unique_ptr<Fleet> fleet_;
};

}  // namespace scion::fleet
