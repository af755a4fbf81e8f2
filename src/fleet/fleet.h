// The fleet: one supervised `mariadbd` per branch.
//
// Each instance lives in its own folder under `FleetOptions::root`, made by copying a template
// data folder (created once with mariadb-install-db), with a generated config: unix socket only,
// row-based binlog with full images and GTIDs, a unique server_id, durability settings by kind.
// Backend accounts per role and the platform's internal account are (re)asserted by an init file
// at every start, so a restarted instance always has them with the current passwords.
//
// A supervisor thread restarts crashed instances with exponential backoff. Instances run in their
// own session, so they survive a crash of the daemon; on the next start `Start()` re-adopts a
// still-running instance (matched by pid file and command line) instead of starting a second one.
//
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace scion::fleet {

struct Account {
  std::string user;
  std::string password;
};

// The accounts every instance carries. Roles map to MariaDB grants on the branch's schema only:
// reader SELECT; writer INSERT/UPDATE/DELETE; readwriter both; admin DML + DDL; no role has
// server-level privileges. `internal` is the platform's own account (all privileges).
struct Accounts {
  Account internal;
  Account reader;
  Account writer;
  Account readwriter;
  Account admin;
};

// Accounts with the standard user names and fresh random passwords.
Accounts GenerateAccounts();

enum class InstanceKind { kDevelopment, kProduction };

// Memory of each kind of instance. InnoDB takes buffer-pool pages as it reads data into them, so an
// idle instance stays small whatever its pool; the pool is a ceiling, not an allocation.
struct InstanceSizing {
  // Production: large enough that an online schema change's source and shadow of a table of a
  // few hundred MB stay in memory (the shadow's indexes build from it, sorted, after the copy).
  std::uint64_t production_buffer_pool = 1ull << 30;
  // Development: small, so that dozens of branches fit on a laptop.
  std::uint64_t development_buffer_pool = 32ull << 20;

  std::uint64_t buffer_pool(InstanceKind kind) const {
    return kind == InstanceKind::kProduction ? production_buffer_pool : development_buffer_pool;
  }
};

// The smallest buffer pool accepted (MariaDB refuses less than a few MB).
inline constexpr std::uint64_t kMinBufferPool = 8ull << 20;

struct FleetOptions {
  std::filesystem::path root;           // instance folders live in root/<id>/
  std::filesystem::path template_dir;   // made on first Open() when missing
  std::string mariadbd = "mariadbd";
  std::string install_db = "mariadb-install-db";
  Accounts accounts;
  InstanceSizing sizing;
  // How long a start may take before it is abandoned. Generous: after a crash InnoDB recovery of
  // a large instance can take minutes, and killing it would only start recovery over.
  std::chrono::milliseconds start_timeout{600000};
  std::chrono::milliseconds supervise_interval{250};
  std::chrono::milliseconds max_backoff{30000};
};

struct InstanceSpec {
  std::string id;          // folder name; [a-z0-9_-]+
  std::string database;    // the schema created inside (logical name = physical name)
  std::uint32_t server_id = 0;
  InstanceKind kind = InstanceKind::kDevelopment;
};

enum class InstanceState { kStopped, kStarting, kRunning, kRestarting, kFailed };
std::string_view InstanceStateName(InstanceState state);

struct InstanceStatus {
  InstanceState state = InstanceState::kStopped;
  int pid = 0;
  int restarts = 0;          // crash restarts since the daemon started
  std::string last_error;    // the last start failure or crash, if any
};

// Called from the supervisor thread after an event on an instance (crash, restart).
using EventCallback = std::function<void(const std::string& id, const std::string& event)>;

class Fleet {
 public:
  // Prepares the root folder and, when missing, the template data folder.
  static Result<std::unique_ptr<Fleet>> Open(FleetOptions options);
  ~Fleet();  // stops the supervisor; does not stop instances (call StopAll first)
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Creates the instance folder from the template and writes its config. Fails with
  // kAlreadyExists when the folder exists.
  Status Create(const InstanceSpec& spec);

  // True when the instance folder exists.
  bool Exists(const std::string& id) const;

  // Starts the instance (or adopts a running one) and waits until it accepts connections on its
  // socket with the internal account and its database exists. Supervision starts with it.
  Status Start(const InstanceSpec& spec);

  // Stops the instance cleanly (SIGTERM, then SIGKILL after `grace`) and ends its supervision.
  Status Stop(const std::string& id, std::chrono::milliseconds grace = std::chrono::seconds(60));

  // Records a changed spec (e.g. kind after promote) and rewrites the config for the next start;
  // a running instance is not restarted: it gets its new kind's buffer pool online, and callers
  // apply the other dynamic settings themselves.
  Status UpdateSpec(const InstanceSpec& spec);

  // Stops the instance and removes its folder.
  Status Destroy(const std::string& id);

  // Stops every instance, in parallel.
  void StopAll();

  InstanceStatus GetStatus(const std::string& id) const;
  std::filesystem::path SocketPath(const std::string& id) const;
  const Accounts& accounts() const;

  void SetEventCallback(EventCallback callback);

 private:
  class Impl;
  explicit Fleet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The my.cnf of an instance (exposed for tests).
std::string RenderConfig(const InstanceSpec& spec, const std::filesystem::path& folder, bool run_as_root,
                         const InstanceSizing& sizing = {});

// The init file that (re)creates the accounts and grants at every start (exposed for tests).
std::string RenderInitFile(const InstanceSpec& spec, const Accounts& accounts);

}  // namespace scion::fleet
