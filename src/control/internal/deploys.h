// Deploy requests: planning (three-way merge, lint, per-table plan), a queue per target branch,
// execution with the online schema change engine, the revert window. Records are JSON documents
// in the shape the API returns (PlanetScale's fields), stored through Store.
//
// Thread safety: public methods may be called from any thread; one worker thread executes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "control/model.h"
#include "control/store.h"
#include "fleet/fleet.h"
#include "migrate/online_alter.h"
#include "mysql/admin_connection.h"
#include "schema/model.h"

namespace scion::control::internal {

struct DeployOptions {
  std::int64_t revert_window_seconds = 1800;
};

class DeployEngine {
 public:
  using Connect = std::function<Result<std::unique_ptr<mysql::AdminConnection>>(const Branch&)>;
  DeployEngine(Store& store, fleet::Fleet& fleet, Connect connect, DeployOptions options);
  ~DeployEngine();  // Stop()
  void Stop();

  // Plans `branch` into `into` and stores the request (numbered per database).
  Result<nlohmann::json> Create(const Database& db, const Branch& branch, const Branch& into, const std::string& notes,
                                bool auto_apply, const std::string& created_by);
  Result<nlohmann::json> Get(const Database& db, int number);
  Result<std::vector<nlohmann::json>> List(const Database& db);
  // Queues a ready request. `instant`: refused unless every change is instant.
  Result<nlohmann::json> Deploy(const Database& db, int number, bool instant);
  Result<nlohmann::json> Apply(const Database& db, int number);       // cut over a gated deploy
  Result<nlohmann::json> Cancel(const Database& db, int number);      // before the cut-over
  Result<nlohmann::json> Revert(const Database& db, int number);      // during the revert window
  Result<nlohmann::json> SkipRevert(const Database& db, int number);  // ends the window now
  Result<nlohmann::json> Close(const Database& db, int number);
  Result<nlohmann::json> Review(const Database& db, int number, const std::string& by, bool approve,
                                const std::string& comment);

  // After a restart: interrupted deploys start over (their leftovers abandoned); a revert window
  // whose sync was lost ends.
  Status Recover();

 private:
  struct Running;
  Result<nlohmann::json> Load(const Database& db, int number);
  Result<nlohmann::json> Signal(const Database& db, int number, std::initializer_list<std::string_view> states,
                                std::atomic<bool> Running::*flag, std::string_view next_state, std::string_view action,
                                std::string_view hint);
  Status Save(nlohmann::json& dr);
  Status Plan(nlohmann::json& dr, const Branch& branch, const Branch& into, schema::Schema* merged_out = nullptr,
              schema::Schema* theirs_out = nullptr);
  void Loop();
  void Execute(const std::string& database_id, int number);
  Status RunDeploy(nlohmann::json& dr, Running& run);
  Status CutOverAll(nlohmann::json& dr, Running& run);
  void FinishWindows();
  Result<Branch> BranchById(const std::string& database_id, const std::string& name);
  migrate::AlterOptions AlterOptionsFor(const Branch& target) const;  // the internal account, the socket
  Result<std::unique_ptr<mysql::AdminConnection>> ConnectTarget(const nlohmann::json& dr);

  Store& store_;
  fleet::Fleet& fleet_;
  Connect connect_;
  DeployOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                   // guarded by mu_
  std::atomic<bool> stopping_{false};                   // read by the worker without the lock
  std::map<std::string, std::unique_ptr<Running>> running_;  // by request id; guarded by mu_
  std::thread worker_;
};

}  // namespace scion::control::internal
