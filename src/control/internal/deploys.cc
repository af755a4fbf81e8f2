#include "control/internal/deploys.h"

#include <algorithm>
#include <atomic>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/log.h"
#include "migrate/online_alter.h"
#include "migrate/plan.h"
#include "mysql/protocol.h"
#include "schema/copy.h"
#include "schema/introspect.h"
#include "schema/lint.h"
#include "schema/merge.h"

namespace scion::control::internal {

using json = nlohmann::json;
using mysql::QuoteIdentifier;

namespace {

std::string Now() { return FormatTimestamp(NowUnixMillis()); }

std::string_view OperationName(schema::ChangeKind k) {
  switch (k) {
    case schema::ChangeKind::kCreateTable:
      return "create_table";
    case schema::ChangeKind::kAlterTable:
      return "alter_table";
    case schema::ChangeKind::kDropTable:
      return "drop_table";
    case schema::ChangeKind::kCreateView:
      return "create_view";
    case schema::ChangeKind::kAlterView:
      return "alter_view";
    case schema::ChangeKind::kDropView:
      return "drop_view";
  }
  return "unknown";
}

// Requests in these states hold their target's queue.
bool HoldsQueue(const std::string& s) {
  return s == "submitting" || s == "in_progress" || s == "pending_cutover" || s == "in_progress_cutover" ||
         s == "complete_pending_revert" || s == "in_progress_revert" || s == "in_progress_cancel";
}

Error StateError(const json& dr, std::string_view action, std::string_view hint = {}) {
  return Error{ErrorCode::kConflict,
               fmt::format("deploy request #{} cannot {}: it is {}", dr.value("number", 0), action,
                           dr.value("deployment_state", "")),
               std::string(hint)};
}

// The parent's schema when the branch was cut, rebuilt in a scratch database on `conn`'s
// instance and read back as a model.
Result<schema::Schema> BaseSchema(mysql::AdminConnection& conn, const std::string& objects_json) {
  json objects = json::parse(objects_json, nullptr, false);
  if (!objects.is_array()) return MakeError(ErrorCode::kInternal, "the branch's base schema is unreadable");
  std::string scratch = "_scion_base_" + RandomHex(6);
  SCION_TRY(conn.Execute(fmt::format("CREATE DATABASE {}", QuoteIdentifier(scratch))));
  auto build = [&]() -> Result<schema::Schema> {
    SCION_TRY(conn.Execute(fmt::format("USE {}", QuoteIdentifier(scratch))));
    SCION_TRY(conn.Execute("SET SESSION foreign_key_checks = 0"));
    std::vector<std::string> views;
    for (const auto& o : objects) {
      std::string sql = o.value("create_statement", "");
      if (o.value("kind", "") == "view") {
        views.push_back(sql);
      } else {
        SCION_TRY(conn.Execute(sql));
      }
    }
    // Views may depend on each other: retry until no progress.
    while (!views.empty()) {
      std::vector<std::string> left;
      for (const auto& v : views) {
        if (!conn.Execute(v)) left.push_back(v);
      }
      if (left.size() == views.size()) return MakeError(ErrorCode::kInternal, "cannot rebuild the base schema's views");
      views.swap(left);
    }
    return schema::Introspect(conn, scratch);
  };
  auto base = build();
  (void)conn.Execute(fmt::format("DROP DATABASE IF EXISTS {}", QuoteIdentifier(scratch)));
  return base;
}

}  // namespace

struct DeployEngine::Running {
  std::vector<std::unique_ptr<migrate::OnlineAlter>> alters;  // guarded by the engine's mu_
  std::vector<std::string> dropped;  // tables parked as <t>_scion_old by the deploy
  // Requests from API threads, read by the worker.
  std::atomic<bool> apply{false};
  std::atomic<bool> cancel{false};
  std::atomic<bool> revert{false};
  std::atomic<bool> skip_revert{false};
};

DeployEngine::DeployEngine(Store& store, fleet::Fleet& fleet, Connect connect, DeployOptions options)
    : store_(store), fleet_(fleet), connect_(std::move(connect)), options_(options) {
  worker_ = std::thread([this] { Loop(); });
}

DeployEngine::~DeployEngine() { Stop(); }

void DeployEngine::Stop() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    if (stop_ && !worker_.joinable()) return;
    stop_ = true;
    for (auto& [id, run] : running_) {
      for (auto& a : run->alters) a->Cancel();
    }
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mu_);
  running_.clear();
}

Result<Branch> DeployEngine::BranchById(const std::string& database_id, const std::string& name) {
  return store_.FindBranch(database_id, name);
}

migrate::AlterOptions DeployEngine::AlterOptionsFor(const Branch& b) const {
  const auto& acc = fleet_.accounts().internal;
  return {.connect = {.unix_socket = fleet_.SocketPath(b.id).string(), .user = acc.user, .password = acc.password}};
}

Result<std::unique_ptr<mysql::AdminConnection>> DeployEngine::ConnectTarget(const json& dr) {
  SCION_ASSIGN_OR_RETURN(auto into, BranchById(dr["database_id"], dr["into_branch"]));
  return connect_(into);
}

Result<json> DeployEngine::Load(const Database& db, int number) {
  auto stored = store_.FindDeployRequest(db.id, number);
  if (!stored) {
    if (stored.error().code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kNotFound, fmt::format("deploy request #{} not found in database \"{}\"", number, db.name),
                       fmt::format("run: scion deploy-request list {}", db.name));
    }
    return std::unexpected(stored.error());
  }
  json dr = json::parse(stored->body, nullptr, false);
  if (!dr.is_object()) return MakeError(ErrorCode::kInternal, "unreadable deploy request record");
  return dr;
}

Status DeployEngine::Save(json& dr) {
  dr["updated_at"] = Now();
  return store_.UpdateDeployRequest({.id = dr["id"],
                                     .database_id = dr["database_id"],
                                     .number = dr["number"],
                                     .state = dr["state"],
                                     .deployment_state = dr["deployment_state"],
                                     .body = dr.dump(),
                                     .updated_at = NowUnixMillis()});
}

Status DeployEngine::Plan(json& dr, const Branch& branch, const Branch& into, schema::Schema* merged_out,
                          schema::Schema* theirs_out) {
  SCION_ASSIGN_OR_RETURN(auto target_conn, connect_(into));
  SCION_ASSIGN_OR_RETURN(auto branch_conn, connect_(branch));
  SCION_ASSIGN_OR_RETURN(auto theirs, schema::Introspect(*target_conn, into.database_name));
  SCION_ASSIGN_OR_RETURN(auto ours, schema::Introspect(*branch_conn, branch.database_name));
  schema::Schema base = theirs;  // branches cut before base schemas were kept: a two-way diff
  SCION_ASSIGN_OR_RETURN(auto objects, store_.GetBaseSchema(branch.id));
  if (objects) {
    SCION_ASSIGN_OR_RETURN(base, BaseSchema(*branch_conn, *objects));
  }

  auto merged = schema::Merge(base, ours, theirs, "the branch", into.name);
  if (merged_out) *merged_out = merged.merged;
  if (theirs_out) *theirs_out = theirs;
  dr["conflicts"] = merged.conflicts;
  dr["operations"] = json::array();
  dr["lint_errors"] = json::array();
  dr["lint_warnings"] = json::array();
  if (!merged.clean()) {
    dr["deployment_state"] = "error";
    dr["deployable"] = false;
    std::string reasons;
    for (const auto& c : merged.conflicts) reasons += (reasons.empty() ? "" : "; ") + c;
    dr["error"] = fmt::format("the branch conflicts with {}: {}", into.name, reasons);
    return Ok();
  }
  for (const auto& f : schema::Lint(theirs, merged.merged)) {
    json j = {{"code", f.code}, {"table", f.table}, {"column", f.column}, {"message", f.message}};
    dr[f.severity == schema::Severity::kError ? "lint_errors" : "lint_warnings"].push_back(j);
  }
  bool all_instant = true;
  for (const auto& st : merged.statements) {
    json op = {{"table", st.object},
               {"operation", OperationName(st.kind)},
               {"ddl_statement", st.sql},
               {"strategy", "direct"},
               {"reason", ""},
               {"state", "pending"},
               {"progress_percentage", 0},
               {"eta_seconds", nullptr}};
    if (st.kind == schema::ChangeKind::kAlterTable) {
      auto from = theirs.tables.find(st.object);
      auto to = merged.merged.tables.find(st.object);
      if (from != theirs.tables.end() && to != merged.merged.tables.end()) {
        SCION_ASSIGN_OR_RETURN(auto plan, migrate::PlanTable(*target_conn, into.database_name, from->second, to->second));
        op["strategy"] = std::string(migrate::StrategyName(plan.strategy));
        op["reason"] = plan.reason;
        all_instant = all_instant && plan.strategy == migrate::Strategy::kInstant;
      }
    } else if (st.kind == schema::ChangeKind::kDropTable) {
      all_instant = false;  // kept for the revert window
    }
    dr["operations"].push_back(op);
  }
  dr["instant_eligible"] = all_instant;
  dr["error"] = "";
  if (merged.statements.empty()) {
    dr["deployment_state"] = "no_changes";
    dr["deployable"] = false;
  } else {
    dr["deployment_state"] = "ready";
    dr["deployable"] = dr["lint_errors"].empty();
  }
  return Ok();
}

Result<json> DeployEngine::Create(const Database& db, const Branch& branch, const Branch& into,
                                  const std::string& notes, bool auto_apply, const std::string& created_by) {
  if (branch.id == into.id) {
    return MakeError(ErrorCode::kInvalidArgument, "a branch cannot be deployed into itself",
                     "open the request from a development branch");
  }
  if (!into.safe_migrations) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("branch \"{}\" does not have safe migrations enabled", into.name),
                     fmt::format("deploy requests need it: scion branch safe-migrations enable {} {}", db.name, into.name));
  }
  for (const auto* b : {&branch, &into}) {
    if (b->state != BranchState::kReady) {
      return MakeError(ErrorCode::kFailedPrecondition, fmt::format("branch \"{}\" is not ready", b->name));
    }
  }
  json dr = {{"id", RandomId(12)},          {"type", "DeployRequest"},  {"database", db.name},
             {"database_id", db.id},        {"branch", branch.name},    {"branch_id", branch.id},
             {"into_branch", into.name},    {"into_branch_id", into.id}, {"state", "open"},
             {"deployment_state", "pending"}, {"approved", false},      {"deployable", false},
             {"notes", notes},              {"auto_apply", auto_apply}, {"reviews", json::array()},
             {"created_by", created_by},    {"created_at", Now()},      {"updated_at", Now()},
             {"deployed_at", nullptr},      {"cut_over_at", nullptr},   {"completed_at", nullptr},
             {"revert_window_ends_at", nullptr}};
  SCION_TRY(Plan(dr, branch, into));
  SCION_ASSIGN_OR_RETURN(int number, store_.InsertDeployRequest({.id = dr["id"],
                                                                 .database_id = db.id,
                                                                 .state = "open",
                                                                 .deployment_state = dr["deployment_state"],
                                                                 .body = "{}",
                                                                 .created_at = NowUnixMillis()}));
  dr["number"] = number;
  SCION_TRY(Save(dr));
  spdlog::info("msg=\"deploy request opened\" database={} number={} branch={} into={} state={}", db.name, number,
               branch.name, into.name, dr["deployment_state"].get<std::string>());
  return dr;
}

Result<json> DeployEngine::Get(const Database& db, int number) { return Load(db, number); }

Result<std::vector<json>> DeployEngine::List(const Database& db) {
  SCION_ASSIGN_OR_RETURN(auto all, store_.ListDeployRequests(db.id));
  std::vector<json> out;
  for (const auto& s : all) {
    json j = json::parse(s.body, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

Result<json> DeployEngine::Deploy(const Database& db, int number, bool instant) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto dr, Load(db, number));
  if (dr["state"] != "open") return std::unexpected(StateError(dr, "be deployed", "it is closed"));
  if (dr["deployment_state"] != "ready") {
    return std::unexpected(StateError(dr, "be deployed", "only a ready request can be deployed"));
  }
  if (!dr.value("deployable", false)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("deploy request #{} is not deployable: fix its lint errors on the branch first", number));
  }
  SCION_ASSIGN_OR_RETURN(auto require, store_.GetSetting("database." + db.id + ".require_approval"));
  if (require && *require == "true" && !dr.value("approved", false)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("deploy request #{} needs an approving review first", number),
                     fmt::format("run: scion deploy-request review {} {} --approve", db.name, number));
  }
  if (instant && !dr.value("instant_eligible", false)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("deploy request #{} cannot be deployed with --instant: not every change is instant",
                                 number),
                     "deploy without --instant (its online changes keep a revert window)");
  }
  dr["instant"] = instant;
  dr["deployment_state"] = "queued";
  dr["deployed_at"] = Now();
  SCION_TRY(Save(dr));
  cv_.notify_all();
  return dr;
}

// Hands a request to the worker running it: sets `flag` on its run when the request is in one
// of `states`, and moves it to `next_state` (when given).
Result<json> DeployEngine::Signal(const Database& db, int number, std::initializer_list<std::string_view> states,
                                  std::atomic<bool> Running::*flag, std::string_view next_state,
                                  std::string_view action, std::string_view hint) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto dr, Load(db, number));
  std::string state = dr["deployment_state"];
  auto it = running_.find(dr["id"]);
  if (std::find(states.begin(), states.end(), state) == states.end() || it == running_.end()) {
    return std::unexpected(StateError(dr, action, hint));
  }
  (it->second.get()->*flag) = true;
  if (!next_state.empty()) {
    dr["deployment_state"] = std::string(next_state);
    SCION_TRY(Save(dr));
  }
  cv_.notify_all();
  return dr;
}

Result<json> DeployEngine::Apply(const Database& db, int number) {
  return Signal(db, number, {"pending_cutover"}, &Running::apply, "", "be applied",
                "only a gated deploy waiting for its cut-over can be applied");
}

Result<json> DeployEngine::Cancel(const Database& db, int number) {
  {
    // Still queued: nothing runs yet, the request just ends.
    std::lock_guard lock(mu_);
    SCION_ASSIGN_OR_RETURN(auto dr, Load(db, number));
    if (dr["deployment_state"] == "queued") {
      dr["deployment_state"] = "cancelled";
      SCION_TRY(Save(dr));
      return dr;
    }
  }
  return Signal(db, number, {"submitting", "in_progress", "pending_cutover"}, &Running::cancel, "in_progress_cancel",
                "be cancelled", "only a deploy before its cut-over can be cancelled");
}

Result<json> DeployEngine::Revert(const Database& db, int number) {
  return Signal(db, number, {"complete_pending_revert"}, &Running::revert, "in_progress_revert", "be reverted",
                "only a deploy in its revert window can be reverted");
}

Result<json> DeployEngine::SkipRevert(const Database& db, int number) {
  return Signal(db, number, {"complete_pending_revert"}, &Running::skip_revert, "", "skip its revert",
                "only a deploy in its revert window has one");
}

Result<json> DeployEngine::Close(const Database& db, int number) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto dr, Load(db, number));
  if (HoldsQueue(dr["deployment_state"]) || dr["deployment_state"] == "queued") {
    return std::unexpected(StateError(dr, "be closed", "cancel it or wait for it to finish"));
  }
  dr["state"] = "closed";
  SCION_TRY(Save(dr));
  return dr;
}

Result<json> DeployEngine::Review(const Database& db, int number, const std::string& by, bool approve,
                                  const std::string& comment) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto dr, Load(db, number));
  if (approve && by == dr.value("created_by", "")) {
    return MakeError(ErrorCode::kPermissionDenied, "the author of a deploy request cannot approve it",
                     "ask someone else (another service token) to review it");
  }
  dr["reviews"].push_back({{"by", by}, {"state", approve ? "approved" : "commented"}, {"body", comment},
                           {"created_at", Now()}});
  if (approve) dr["approved"] = true;
  SCION_TRY(Save(dr));
  return dr;
}

void DeployEngine::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(500));
    if (stop_) return;
    // The first queued request of each target whose queue is free, oldest first.
    auto all = store_.AllDeployRequests();
    if (!all) continue;
    std::set<std::string> busy;
    std::vector<std::pair<std::string, int>> ready;
    for (const auto& s : *all) {
      json dr = json::parse(s.body, nullptr, false);
      if (!dr.is_object()) continue;
      std::string target = dr.value("into_branch_id", "");
      if (HoldsQueue(s.deployment_state)) busy.insert(target);
    }
    for (const auto& s : *all) {
      if (s.deployment_state != "queued") continue;
      json dr = json::parse(s.body, nullptr, false);
      std::string target = dr.value("into_branch_id", "");
      if (busy.count(target)) continue;
      busy.insert(target);
      ready.push_back({s.database_id, s.number});
    }
    lock.unlock();
    for (const auto& [db, n] : ready) Execute(db, n);
    FinishWindows();
    lock.lock();
  }
}

void DeployEngine::Execute(const std::string& database_id, int number) {
  json dr;
  std::string id;
  Running* run = nullptr;
  {
    // Re-read under the lock: a cancel may have come in since the queue was looked at.
    std::lock_guard lock(mu_);
    auto fresh = store_.FindDeployRequest(database_id, number);
    if (!fresh || fresh->deployment_state != "queued") return;
    dr = json::parse(fresh->body, nullptr, false);
    id = dr["id"];
    auto [it, inserted] = running_.emplace(id, std::make_unique<Running>());
    run = it->second.get();
    dr["deployment_state"] = "submitting";
    (void)Save(dr);
  }
  auto st = RunDeploy(dr, *run);
  if (!st && stopping_) {
    // The server is stopping: leave the request as it is, shadows and checkpoints kept; the
    // next start resumes it.
    std::lock_guard lock(mu_);
    running_.erase(id);
    return;
  }
  if (!st) {
    bool cancelled = run->cancel;
    spdlog::error("msg=\"deploy failed\" number={} error={}", number, log::Quote(st.error().message));
    {
      std::lock_guard lock(mu_);
      running_.erase(id);  // destroys the alters (their shadows are kept for a resume)...
    }
    // ...so drop them here: the target is as it was.
    auto into = BranchById(dr["database_id"], dr["into_branch"]);
    if (into) {
      migrate::AlterOptions ao = AlterOptionsFor(*into);
      for (auto& op : dr["operations"]) {
        if (op.value("strategy", "") != "copy" || op.value("state", "") == "complete") continue;
        (void)migrate::OnlineAlter::Abandon(ao, {.schema = into->database_name, .table = op.value("table", "")});
        op.erase("checkpoint");
      }
    }
    dr["deployment_state"] = cancelled ? "complete_cancel" : "complete_error";
    dr["error"] = cancelled ? "" : st.error().message;
    dr["completed_at"] = Now();
  }
  (void)Save(dr);
}

Status DeployEngine::RunDeploy(json& dr, Running& run) {
  SCION_ASSIGN_OR_RETURN(auto into, BranchById(dr["database_id"], dr["into_branch"]));
  SCION_ASSIGN_OR_RETURN(auto branch, BranchById(dr["database_id"], dr["branch"]));
  // Checked again against the target as it is now: another deploy may have changed it.
  json fresh = dr;
  schema::Schema after, theirs;
  SCION_TRY(Plan(fresh, branch, into, &after, &theirs));
  if (fresh["deployment_state"] == "error") return MakeError(ErrorCode::kConflict, fresh.value("error", ""));
  bool swapped_before_restart = dr.value("swapped_before_restart", false);
  dr.erase("swapped_before_restart");
  if (fresh["deployment_state"] == "no_changes" && swapped_before_restart) {
    // Every change reached the target in a cut-over the restart interrupted after the swap.
    dr["deployment_state"] = "complete";
    dr["completed_at"] = Now();
    dr["error"] = "the revert window ended early: the server restarted";
    std::lock_guard lock(mu_);
    running_.erase(dr["id"].get<std::string>());
    return Ok();
  }
  if (fresh["deployment_state"] == "no_changes") {
    dr["deployment_state"] = "no_changes";
    std::lock_guard lock(mu_);
    running_.erase(dr["id"].get<std::string>());
    return Ok();
  }
  // Checkpoints of copies an earlier run (before a restart) made for the same statements.
  std::map<std::string, json> checkpoints;
  for (const auto& op : dr["operations"]) {
    if (op.contains("checkpoint")) checkpoints[op.value("ddl_statement", "")] = op["checkpoint"];
  }
  dr["operations"] = fresh["operations"];
  for (auto& op : dr["operations"]) {
    auto it = checkpoints.find(op.value("ddl_statement", ""));
    if (it != checkpoints.end()) op["checkpoint"] = it->second;
  }
  dr["deployment_state"] = "in_progress";
  SCION_TRY(Save(dr));

  SCION_ASSIGN_OR_RETURN(auto conn, connect_(into));
  const std::string& schema_name = into.database_name;
  SCION_TRY(conn->Execute(fmt::format("USE {}", QuoteIdentifier(schema_name))));
  migrate::AlterOptions ao = AlterOptionsFor(into);
  // Phase 1: online copies first (the application sees no change until the cut-over).
  auto& ops = dr["operations"];
  std::vector<std::size_t> later;  // operations applied at the cut-over
  for (std::size_t i = 0; i < ops.size(); ++i) {
    auto& op = ops[i];
    if (op["operation"] != "alter_table" || op["strategy"] != "copy") {
      later.push_back(i);
      continue;
    }
    std::string table = op["table"];
    if (!theirs.tables.count(table) || !after.tables.count(table)) {
      return MakeError(ErrorCode::kInternal, fmt::format("table {} vanished while deploying", table));
    }
    SCION_ASSIGN_OR_RETURN(auto plan, migrate::PlanTable(*conn, schema_name, theirs.tables.at(table), after.tables.at(table)));
    plan.strategy = migrate::Strategy::kCopy;
    // Each chunk's checkpoint is saved with the request, so a restart resumes the copy.
    migrate::AlterOptions with_checkpoints = ao;
    with_checkpoints.drop_shadow_on_failure = false;  // kept for a resume; a failure drops it itself
    with_checkpoints.on_checkpoint = [&](const migrate::Checkpoint& c) -> Status {
      op["checkpoint"] = {{"watermark", c.watermark},
                          {"position", c.position},
                          {"rows_copied", c.rows_copied},
                          {"copy_done", c.copy_done}};
      return Save(dr);
    };
    std::optional<migrate::Checkpoint> resume;
    if (op.contains("checkpoint")) {
      const auto& c = op["checkpoint"];
      resume = migrate::Checkpoint{.watermark = c.value("watermark", ""),
                                   .position = c.value("position", ""),
                                   .rows_copied = c.value("rows_copied", std::uint64_t{0}),
                                   .copy_done = c.value("copy_done", false)};
      spdlog::info("msg=\"resuming copy from its checkpoint\" number={} table={} rows_copied={}",
                   dr.value("number", 0), table, resume->rows_copied);
    }
    auto alter = std::make_unique<migrate::OnlineAlter>(with_checkpoints, plan);
    op["state"] = "in_progress";
    SCION_TRY(Save(dr));
    auto on_progress = [&](const migrate::Progress& p) {
      if (run.cancel || stopping_) alter->Cancel();
      op["progress_percentage"] = p.percent();
      op["eta_seconds"] = p.eta_seconds < 0 ? json(nullptr) : json(static_cast<int>(p.eta_seconds + 0.5));
    };
    auto copied = alter->Copy(on_progress, resume);
    if (!copied && resume && !run.cancel) {
      // The shadow did not survive (or the checkpoint is unusable): start this table over.
      spdlog::warn("msg=\"cannot resume the copy; starting over\" table={} error={}", table,
                   log::Quote(copied.error().message));
      op.erase("checkpoint");
      (void)migrate::OnlineAlter::Abandon(ao, plan);
      alter = std::make_unique<migrate::OnlineAlter>(with_checkpoints, plan);
      copied = alter->Copy(on_progress);
    }
    SCION_TRY(copied);
    SCION_TRY(alter->Verify());
    op["progress_percentage"] = 100;
    op["eta_seconds"] = 0;
    op["state"] = "pending_cutover";
    std::lock_guard lock(mu_);
    run.alters.push_back(std::move(alter));
  }
  SCION_TRY(Save(dr));
  if (run.cancel) return MakeError(ErrorCode::kConflict, "cancelled");

  // Gated: wait for `apply` (or a cancel), keeping the shadows in sync meanwhile.
  if (!dr.value("auto_apply", true)) {
    dr["deployment_state"] = "pending_cutover";
    SCION_TRY(Save(dr));
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return run.apply || run.cancel || stop_; });
        if (run.cancel || stop_) return MakeError(ErrorCode::kConflict, "cancelled");
        if (run.apply) break;
      }
      for (auto& a : run.alters) SCION_TRY(a->CatchUp());
    }
  }
  {
    std::lock_guard lock(mu_);
    if (run.cancel || stop_) return MakeError(ErrorCode::kConflict, "cancelled");
  }
  dr["deployment_state"] = "in_progress_cutover";
  SCION_TRY(Save(dr));

  // Phase 2: the cut-over, then the other statements in the plan's order (views are dropped
  // and recreated after it, so a failed cut-over leaves them alone). Statements wait for locks
  // a few seconds at most: a long transaction must not stall the table behind them.
  SCION_TRY(conn->Execute("SET SESSION lock_wait_timeout = 5"));
  std::vector<migrate::OnlineAlter*> alters;
  for (auto& a : run.alters) alters.push_back(a.get());
  SCION_TRY(migrate::OnlineAlter::CutOver(alters));
  for (auto& op : ops) {
    if (op["state"] == "pending_cutover") op["state"] = "complete";
  }
  for (std::size_t i : later) {
    auto& op = ops[i];
    std::string kind = op["operation"];
    std::string table = op["table"];
    Status st = Ok();
    if (kind == "drop_view" || kind == "alter_view") {
      st = conn->Execute(fmt::format("DROP VIEW IF EXISTS {}", QuoteIdentifier(table)));
      if (st && kind == "alter_view") st = conn->Execute(std::string(op["ddl_statement"]));
    } else if (kind == "drop_table") {
      // Kept, renamed, through the revert window.
      st = conn->Execute(fmt::format("RENAME TABLE {} TO {}", QuoteIdentifier(table), QuoteIdentifier(migrate::OldTableName(table))));
      if (st) run.dropped.push_back(table);
    } else if (kind == "alter_table") {
      st = conn->Execute(std::string(op["ddl_statement"]) + ", ALGORITHM=INSTANT");
    } else {
      st = conn->Execute(std::string(op["ddl_statement"]));
    }
    if (!st) return MakeError(ErrorCode::kInternal, fmt::format("{} of {} failed: {}", kind, table, st.error().message));
    op["state"] = "complete";
    op["progress_percentage"] = 100;
  }
  dr["cut_over_at"] = Now();
  if (run.alters.empty() && run.dropped.empty()) {
    dr["deployment_state"] = "complete";
    dr["completed_at"] = Now();
    std::lock_guard lock(mu_);
    running_.erase(dr["id"].get<std::string>());
    return Ok();
  }
  for (auto& a : run.alters) SCION_TRY(a->StartRevertSync());
  dr["deployment_state"] = "complete_pending_revert";
  dr["revert_window_ends_at"] = FormatTimestamp(NowUnixMillis() + options_.revert_window_seconds * 1000);
  dr["revert_window_ends_at_ms"] = NowUnixMillis() + options_.revert_window_seconds * 1000;
  return Ok();
}

// Revert windows: requests to revert or skip, and windows that ran out.
void DeployEngine::FinishWindows() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, run] : running_) ids.push_back(id);
  }
  auto all = store_.AllDeployRequests();
  if (!all) return;
  for (const auto& s : *all) {
    if (std::find(ids.begin(), ids.end(), s.id) == ids.end()) continue;
    json dr = json::parse(s.body, nullptr, false);
    std::string state = s.deployment_state;
    Running* run = nullptr;
    {
      std::lock_guard lock(mu_);
      run = running_.at(s.id).get();
    }
    bool expired = dr.value("revert_window_ends_at_ms", std::int64_t{0}) <= NowUnixMillis();
    if (state == "in_progress_revert" || run->revert) {
      std::vector<migrate::OnlineAlter*> alters;
      for (auto& a : run->alters) alters.push_back(a.get());
      Status st = migrate::OnlineAlter::Revert(alters);  // all tables together, like the cut-over
      auto conn = ConnectTarget(dr);
      for (const auto& t : run->dropped) {
        if (conn && st) {
          st = (*conn)->Execute(fmt::format("RENAME TABLE {}.{} TO {}.{}", QuoteIdentifier(dr["database"].get<std::string>()),
                                            QuoteIdentifier(migrate::OldTableName(t)), QuoteIdentifier(dr["database"].get<std::string>()),
                                            QuoteIdentifier(t)));
        }
      }
      dr["deployment_state"] = st ? "complete_revert" : "complete_pending_revert";
      if (!st) dr["error"] = st.error().message;
      dr["completed_at"] = Now();
      (void)Save(dr);
      if (st) {
        std::lock_guard lock(mu_);
        running_.erase(s.id);
      } else {
        run->revert = false;
      }
      continue;
    }
    if (state == "complete_pending_revert" && (run->skip_revert || expired)) {
      for (auto& a : run->alters) (void)a->SkipRevert();
      auto conn = ConnectTarget(dr);
      for (const auto& t : run->dropped) {
        if (conn) {
          (void)(*conn)->Execute(fmt::format("DROP TABLE IF EXISTS {}.{}", QuoteIdentifier(dr["database"].get<std::string>()),
                                             QuoteIdentifier(migrate::OldTableName(t))));
        }
      }
      dr["deployment_state"] = "complete";
      dr["completed_at"] = Now();
      (void)Save(dr);
      std::lock_guard lock(mu_);
      running_.erase(s.id);
    }
  }
}

Status DeployEngine::Recover() {
  SCION_ASSIGN_OR_RETURN(auto all, store_.AllDeployRequests());
  for (const auto& s : all) {
    json dr = json::parse(s.body, nullptr, false);
    if (!dr.is_object()) continue;
    std::string state = s.deployment_state;
    if (state == "submitting" || state == "in_progress" || state == "pending_cutover" || state == "in_progress_cutover" ||
        state == "in_progress_cancel") {
      // Copies resume from their saved checkpoints; shadows without one are dropped.
      auto into = BranchById(dr["database_id"], dr["into_branch"]);
      if (into) {
        migrate::AlterOptions ao = AlterOptionsFor(*into);
        for (const auto& op : dr["operations"]) {
          if (state == "in_progress_cutover" && op.value("strategy", "") == "copy" &&
              migrate::OnlineAlter::SwappedBeforeRestart(ao, into->database_name, op.value("table", ""))) {
            // The restart came between the swap and its record: the table is changed; its
            // previous one can no longer be kept in sync for a revert, so it goes (as after a
            // restart in the revert window). The run that follows plans without this table.
            spdlog::warn("msg=\"the cut-over had swapped the table before the restart; dropping the previous "
                         "table\" number={} table={}", s.number, op.value("table", ""));
            auto conn = ConnectTarget(dr);
            if (conn) {
              (void)(*conn)->Execute(fmt::format("DROP TABLE IF EXISTS {}.{}", QuoteIdentifier(into->database_name),
                                                 QuoteIdentifier(migrate::OldTableName(op.value("table", "")))));
            }
            dr["swapped_before_restart"] = true;
            continue;
          }
          // A copy with a checkpoint keeps its shadow and resumes; others start over.
          if (op.contains("checkpoint") && state != "in_progress_cancel") continue;
          migrate::TablePlan p{.schema = into->database_name, .table = op.value("table", "")};
          (void)migrate::OnlineAlter::Abandon(ao, p);
        }
      }
      dr["deployment_state"] = state == "in_progress_cancel" ? "complete_cancel" : "queued";
      spdlog::info("msg=\"deploy request resumed after a restart\" number={} state={}", s.number,
                   dr["deployment_state"].get<std::string>());
    } else if (state == "complete_pending_revert" || state == "in_progress_revert") {
      // The revert sync did not survive the restart: the previous tables are stale; they go.
      auto conn = ConnectTarget(dr);
      for (const auto& op : dr["operations"]) {
        if (!conn || (op.value("strategy", "") != "copy" && op.value("operation", "") != "drop_table")) continue;
        (void)(*conn)->Execute(fmt::format("DROP TABLE IF EXISTS {}.{}", QuoteIdentifier(dr["database"].get<std::string>()),
                                           QuoteIdentifier(migrate::OldTableName(op.value("table", "")))));
      }
      dr["deployment_state"] = "complete";
      dr["completed_at"] = Now();
      dr["error"] = "the revert window ended early: the server restarted";
    } else {
      continue;
    }
    SCION_TRY(Save(dr));
  }
  cv_.notify_all();
  return Ok();
}

}  // namespace scion::control::internal
