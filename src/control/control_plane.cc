#include "control/control_plane.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/files.h"
#include "base/log.h"
#include "base/names.h"
#include "control/internal/deploys.h"
#include "control/internal/directory.h"
#include "control/internal/passwords.h"
#include "control/store.h"
#include "mysql/admin_connection.h"
#include "mysql/auth.h"
#include "schema/introspect.h"
#include "schema/verify.h"

namespace scion::control {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDefaultOrg = "default";
constexpr const char* kDefaultBranch = "main";

// Runs jobs on a fixed set of threads; Drain() finishes queued jobs and joins.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() { Drain(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  void Drain() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void Loop() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> threads_;
};

fleet::InstanceSpec SpecOf(const Branch& b) {
  return {.id = b.id,
          .database = b.database_name,
          .server_id = b.server_id,
          .kind = b.production ? fleet::InstanceKind::kProduction : fleet::InstanceKind::kDevelopment};
}

PageRequest Clamp(PageRequest p) {
  p.page = std::max(1, p.page);
  p.per_page = std::clamp(p.per_page, 1, 100);
  return p;
}

}  // namespace

class ControlPlane::Impl {
 public:
  ControlOptions options;
  int lock_fd = -1;
  std::unique_ptr<Store> store;
  std::unique_ptr<fleet::Fleet> fleet;
  std::unique_ptr<WorkerPool> workers;
  std::unique_ptr<internal::PlatformDirectory> directory;  // borrows store and fleet
  std::unique_ptr<internal::DeployEngine> deploys;         // borrows store and fleet
  std::mutex mu;
  std::string gateway_address;  // guarded by mu
  std::string gateway_ca;       // guarded by mu
  std::set<std::string> provisioning;  // branch ids with a job in flight; guarded by mu
  // Serializes changes to databases and branches that read, decide and write (create, delete,
  // promote, demote, safe migrations), so two requests never interleave their checks and writes.
  std::mutex mutate_mu;
  bool shut_down = false;              // guarded by mu

  ~Impl() {
    if (lock_fd >= 0) ::close(lock_fd);
  }

  Status Lock() {
    fs::path path = options.data_dir / "scion.lock";
    lock_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) return MakeError(ErrorCode::kInternal, "cannot open " + path.string());
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      return MakeError(ErrorCode::kConflict,
                       fmt::format("another scion server is using the data folder {}", options.data_dir.string()),
                       "stop it first, or pass another --data-dir");
    }
    return Ok();
  }

  Result<fleet::Accounts> LoadOrCreateAccounts() {
    fleet::Accounts a;
    std::pair<fleet::Account*, const char*> all[] = {{&a.internal, "scion_internal"},
                                                      {&a.reader, "scion_reader"},
                                                      {&a.writer, "scion_writer"},
                                                      {&a.readwriter, "scion_readwriter"},
                                                      {&a.admin, "scion_admin"}};
    for (auto& [account, user] : all) {
      std::string key = fmt::format("account.{}.password", user);
      SCION_ASSIGN_OR_RETURN(auto existing, store->GetSetting(key));
      account->user = user;
      if (existing) {
        account->password = *existing;
      } else {
        account->password = RandomHex(24);
        SCION_TRY(store->PutSetting(key, account->password));
      }
    }
    return a;
  }

  // First start: the default organization and an admin token.
  // First start: the default organization, and an admin token whenever none exists (also when a
  // first start died between the two). The token file is written before the token is stored, so
  // a crash in between leaves no stored token whose secret nobody has.
  Result<std::optional<std::string>> Bootstrap() {
    auto org = store->FindOrganization(kDefaultOrg);
    if (!org) {
      if (org.error().code != ErrorCode::kNotFound) return std::unexpected(org.error());
      SCION_TRY(store->InsertOrganization(Organization{RandomId(12), kDefaultOrg, NowUnixMillis()}));
      SCION_ASSIGN_OR_RETURN(org, store->FindOrganization(kDefaultOrg));
    }
    SCION_ASSIGN_OR_RETURN(int tokens, store->CountTokens());
    if (tokens > 0) return std::optional<std::string>();
    ServiceToken t{RandomId(12), org->id, "admin", "", NowUnixMillis()};
    std::string secret = "scion_tkn_" + RandomHex(20);
    t.token_hash = Sha256Hex(secret);
    std::string credentials = t.id + ":" + secret;
    SCION_TRY(WriteFileAtomic(options.data_dir / "admin-token", credentials + "\n", 0600));
    SCION_TRY(store->InsertToken(t));
    return std::optional<std::string>(credentials);
  }

  Result<Database> FindDatabase(const std::string& org, const std::string& name) {
    SCION_ASSIGN_OR_RETURN(auto o, store->FindOrganization(org));
    return store->FindDatabase(o.id, name);
  }

  Result<Branch> FindBranch(const std::string& org, const std::string& db, const std::string& name) {
    SCION_ASSIGN_OR_RETURN(auto d, FindDatabase(org, db));
    auto b = store->FindBranch(d.id, name);
    if (!b && b.error().code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kNotFound, fmt::format("branch \"{}\" not found in database \"{}\"", name, db),
                       fmt::format("run: scion branch list {}", db));
    }
    return b;
  }

  // A branch record in state pending with a fresh id and server_id (not stored yet).
  Result<Branch> NewPendingBranch(const Database& db, const std::string& name, const std::string& parent,
                                  bool production) {
    SCION_ASSIGN_OR_RETURN(auto server_id, store->NextServerId());
    auto now = NowUnixMillis();
    return Branch{.id = RandomId(12),
                  .database_id = db.id,
                  .database_name = db.name,
                  .name = name,
                  .parent_branch = parent,
                  .production = production,
                  .safe_migrations = false,
                  .state = BranchState::kPending,
                  .error = "",
                  .server_id = server_id,
                  .created_at = now,
                  .updated_at = now};
  }

  void Provision(Branch branch) {
    auto started = NowUnixMillis();
    auto result = ProvisionSteps(branch);
    if (result) {
      branch.state = BranchState::kReady;
      branch.error.clear();
      spdlog::info("msg=\"branch ready\" database={} branch={} ms={}", branch.database_name, branch.name,
                   NowUnixMillis() - started);
    } else {
      branch.state = BranchState::kError;
      branch.error = result.error().message;
      spdlog::error("msg=\"branch creation failed\" database={} branch={} error={}", branch.database_name,
                    branch.name, log::Quote(branch.error));
    }
    auto updated = store->UpdateBranchState(branch.id, branch.state, branch.error);
    if (!updated) spdlog::error("msg=\"cannot record branch state\" error={}", log::Quote(updated.error().message));
    std::lock_guard lock(mu);
    provisioning.erase(branch.id);
  }

  Status ProvisionSteps(const Branch& branch) {
    auto spec = SpecOf(branch);
    // An interrupted earlier attempt may have left a half-made instance: start over.
    if (fleet->Exists(branch.id)) SCION_TRY(fleet->Destroy(branch.id));
    SCION_TRY(fleet->Create(spec));
    SCION_TRY(fleet->Start(spec));
    if (branch.parent_branch.empty()) return Ok();
    SCION_ASSIGN_OR_RETURN(auto parent, store->FindBranch(branch.database_id, branch.parent_branch));
    // After a daemon restart the parent's own recovery may not have run yet; Start is idempotent.
    SCION_TRY(fleet->Start(SpecOf(parent)));
    SCION_ASSIGN_OR_RETURN(auto from, Internal(parent));
    SCION_ASSIGN_OR_RETURN(auto to, Internal(branch));
    SCION_ASSIGN_OR_RETURN(int copied, schema::CopySchema(*from, *to, branch.database_name));
    // The parent's schema at the cut: the base of the branch's deploy requests (three-way merge).
    SCION_ASSIGN_OR_RETURN(auto objects, schema::ReadSchema(*from, branch.database_name));
    nlohmann::json base = nlohmann::json::array();
    for (const auto& o : objects) {
      base.push_back({{"name", o.name},
                      {"kind", o.kind == schema::ObjectKind::kView ? "view" : "table"},
                      {"create_statement", o.create_statement}});
    }
    SCION_TRY(store->PutBaseSchema(branch.id, base.dump()));
    spdlog::info("msg=\"schema copied\" database={} from={} to={} objects={}", branch.database_name, parent.name,
                 branch.name, copied);
    return Ok();
  }

  Result<std::unique_ptr<mysql::AdminConnection>> Internal(const Branch& b) {
    const auto& acc = fleet->accounts().internal;
    return mysql::AdminConnection::Connect({.unix_socket = fleet->SocketPath(b.id).string(),
                                            .user = acc.user,
                                            .password = acc.password,
                                            .database = {}});
  }

  void Enqueue(const Branch& b) {
    {
      std::lock_guard lock(mu);
      provisioning.insert(b.id);
    }
    workers->Post([this, b] { Provision(b); });
  }

  bool IsProvisioning(const std::string& id) {
    std::lock_guard lock(mu);
    return provisioning.count(id) > 0;
  }

  // After a (re)start: running instances are adopted or started; interrupted creations resumed.
  Status Recover() {
    SCION_ASSIGN_OR_RETURN(auto branches, store->AllBranches());
    for (const auto& b : branches) {
      if (b.state == BranchState::kPending) {
        spdlog::info("msg=\"resuming branch creation\" database={} branch={}", b.database_name, b.name);
        Enqueue(b);
      } else if (b.state == BranchState::kReady) {
        workers->Post([this, b] {
          // Re-read: the branch may have been promoted, demoted or deleted since recovery began.
          auto current = store->FindBranch(b.database_id, b.name);
          if (!current || current->id != b.id) return;
          auto started = fleet->Start(SpecOf(*current));
          if (!started) {
            spdlog::error("msg=\"cannot start branch instance; supervisor will retry\" database={} branch={} error={}",
                          b.database_name, b.name, log::Quote(started.error().message));
          }
        });
      }
    }
    return Ok();
  }

  Status ApplyDurability(const Branch& b) {
    SCION_TRY(fleet->UpdateSpec(SpecOf(b)));
    if (fleet->GetStatus(b.id).state != fleet::InstanceState::kRunning) return Ok();
    SCION_ASSIGN_OR_RETURN(auto conn, Internal(b));
    if (b.production) {
      return conn->Execute("SET GLOBAL innodb_flush_log_at_trx_commit = 1, GLOBAL sync_binlog = 1");
    }
    return conn->Execute("SET GLOBAL innodb_flush_log_at_trx_commit = 2, GLOBAL sync_binlog = 0");
  }
};

ControlPlane::ControlPlane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlPlane::~ControlPlane() { Shutdown(); }

Result<std::unique_ptr<ControlPlane>> ControlPlane::Open(ControlOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const fs::path& dir = impl->options.data_dir;
  SCION_TRY(MakeDirs(dir, 0700));
  SCION_TRY(impl->Lock());
  SCION_ASSIGN_OR_RETURN(impl->store, Store::Open((dir / "metadata.db").string()));
  SCION_ASSIGN_OR_RETURN(auto new_token, impl->Bootstrap());
  SCION_ASSIGN_OR_RETURN(auto accounts, impl->LoadOrCreateAccounts());
  fleet::FleetOptions fo;
  fo.root = dir / "instances";
  fo.template_dir = dir / "template";
  fo.mariadbd = impl->options.mariadbd;
  fo.install_db = impl->options.install_db;
  fo.accounts = std::move(accounts);
  fo.sizing = impl->options.sizing;
  SCION_ASSIGN_OR_RETURN(impl->fleet, fleet::Fleet::Open(std::move(fo)));
  impl->directory = std::make_unique<internal::PlatformDirectory>(*impl->store, *impl->fleet);
  impl->workers = std::make_unique<WorkerPool>(std::max(1, impl->options.workers));
  SCION_TRY(impl->Recover());
  {
    Impl* raw = impl.get();
    SCION_ASSIGN_OR_RETURN(auto window, impl->store->GetSetting("deploy.revert_window_seconds"));
    internal::DeployOptions dopts;
    if (window) dopts.revert_window_seconds = std::max<std::int64_t>(0, std::atoll(window->c_str()));
    impl->deploys = std::make_unique<internal::DeployEngine>(
        *impl->store, *impl->fleet, [raw](const Branch& b) { return raw->Internal(b); }, dopts);
    SCION_TRY(impl->deploys->Recover());
  }
  auto cp = std::unique_ptr<ControlPlane>(new ControlPlane(std::move(impl)));
  cp->new_admin_token_ = std::move(new_token);
  return cp;
}

void ControlPlane::Shutdown() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
  }
  impl_->deploys->Stop();
  impl_->workers->Drain();
  impl_->fleet->StopAll();
}

Result<ServiceToken> ControlPlane::Authenticate(std::string_view credentials) {
  auto unauthorized = [] {
    return MakeError(ErrorCode::kUnauthenticated, "missing or invalid service token",
                     "run: scion auth login --token ID:TOKEN; the admin token is in <data-dir>/admin-token");
  };
  auto colon = credentials.find(':');
  if (colon == std::string_view::npos || colon == 0) return unauthorized();
  auto token = impl_->store->FindToken(std::string(credentials.substr(0, colon)));
  if (!token) return unauthorized();
  if (!ConstantTimeEquals(token->token_hash, Sha256Hex(credentials.substr(colon + 1)))) return unauthorized();
  return token;
}

Result<Organization> ControlPlane::GetOrganization(const std::string& org) { return impl_->store->FindOrganization(org); }

Result<Database> ControlPlane::CreateDatabase(const std::string& org, const std::string& name) {
  SCION_TRY(ValidateName("database", name));
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto o, impl_->store->FindOrganization(org));
  auto now = NowUnixMillis();
  Database db{RandomId(12), o.id, name, kDefaultBranch, now, now};
  SCION_ASSIGN_OR_RETURN(Branch main, impl_->NewPendingBranch(db, kDefaultBranch, "", /*production=*/true));
  SCION_TRY(impl_->store->InsertDatabase(db, main));
  spdlog::info("msg=\"database created\" org={} database={}", org, name);
  impl_->Enqueue(main);
  return db;
}

Result<Page<Database>> ControlPlane::ListDatabases(const std::string& org, PageRequest req) {
  req = Clamp(req);
  SCION_ASSIGN_OR_RETURN(auto o, impl_->store->FindOrganization(org));
  Page<Database> page{.page = req.page, .per_page = req.per_page};
  SCION_ASSIGN_OR_RETURN(page.items, impl_->store->ListDatabases(o.id, req.per_page, (req.page - 1) * req.per_page));
  SCION_ASSIGN_OR_RETURN(page.total, impl_->store->CountDatabases(o.id));
  return page;
}

Result<Database> ControlPlane::GetDatabase(const std::string& org, const std::string& name) {
  return impl_->FindDatabase(org, name);
}

Result<std::vector<Branch>> ControlPlane::AllBranchesOf(const Database& db) {
  return impl_->store->ListBranches(db.id, 1000000, 0);
}

Status ControlPlane::DeleteDatabase(const std::string& org, const std::string& name, bool force) {
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto db, impl_->FindDatabase(org, name));
  SCION_ASSIGN_OR_RETURN(auto branches, AllBranchesOf(db));
  int others = 0;
  for (const auto& b : branches) {
    if (b.name != db.default_branch) ++others;
    if (impl_->IsProvisioning(b.id)) {
      return MakeError(ErrorCode::kConflict, fmt::format("branch \"{}\" is still being created", b.name),
                       "try again when it is ready");
    }
  }
  if (others > 0 && !force) {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("database \"{}\" has {} branch{} besides {}", name, others, others == 1 ? "" : "es",
                                 db.default_branch),
                     "delete them first, or pass --force to delete the database with all its branches");
  }
  for (const auto& b : branches) SCION_TRY(impl_->fleet->Destroy(b.id));
  SCION_TRY(impl_->store->DeleteDatabase(db.id));
  impl_->directory->Bump();
  spdlog::info("msg=\"database deleted\" org={} database={} branches={}", org, name, branches.size());
  return Ok();
}

Result<Branch> ControlPlane::CreateBranch(const std::string& org, const std::string& db, const std::string& name,
                                          const std::string& parent_name) {
  SCION_TRY(ValidateName("branch", name));
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  std::string parent_branch = parent_name.empty() ? d.default_branch : parent_name;
  auto parent = impl_->store->FindBranch(d.id, parent_branch);
  if (!parent) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("parent branch \"{}\" not found in database \"{}\"", parent_branch, db),
                     fmt::format("run: scion branch list {}", db));
  }
  if (parent->state != BranchState::kReady) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("parent branch \"{}\" is {}, not ready", parent_branch, BranchStateName(parent->state)),
                     fmt::format("wait for it: scion branch show {} {}", db, parent_branch));
  }
  SCION_ASSIGN_OR_RETURN(Branch b, impl_->NewPendingBranch(d, name, parent_branch, /*production=*/false));
  SCION_TRY(impl_->store->InsertBranch(b));
  spdlog::info("msg=\"branch created\" database={} branch={} parent={}", db, name, parent_branch);
  impl_->Enqueue(b);
  return b;
}

Result<Page<Branch>> ControlPlane::ListBranches(const std::string& org, const std::string& db, PageRequest req) {
  req = Clamp(req);
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  Page<Branch> page{.page = req.page, .per_page = req.per_page};
  SCION_ASSIGN_OR_RETURN(page.items, impl_->store->ListBranches(d.id, req.per_page, (req.page - 1) * req.per_page));
  SCION_ASSIGN_OR_RETURN(page.total, impl_->store->CountBranches(d.id));
  return page;
}

Result<Branch> ControlPlane::GetBranch(const std::string& org, const std::string& db, const std::string& name) {
  return impl_->FindBranch(org, db, name);
}

Status ControlPlane::DeleteBranch(const std::string& org, const std::string& db, const std::string& name) {
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, name));
  if (b.production) {
    return MakeError(ErrorCode::kConflict, fmt::format("branch \"{}\" is a production branch", name),
                     fmt::format("demote it first: scion branch demote {} {}", db, name));
  }
  if (name == d.default_branch) {
    return MakeError(ErrorCode::kConflict, fmt::format("branch \"{}\" is the default branch of \"{}\"", name, db),
                     fmt::format("delete the database instead: scion database delete {}", db));
  }
  if (impl_->IsProvisioning(b.id)) {
    return MakeError(ErrorCode::kConflict, fmt::format("branch \"{}\" is still being created", name),
                     "try again when it is ready");
  }
  SCION_TRY(impl_->fleet->Destroy(b.id));
  SCION_TRY(impl_->store->DeleteBranch(b.id));
  impl_->directory->Bump();
  spdlog::info("msg=\"branch deleted\" database={} branch={}", db, name);
  return Ok();
}

Result<Branch> ControlPlane::Promote(const std::string& org, const std::string& db, const std::string& name) {
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, name));
  if (b.state != BranchState::kReady) {
    return MakeError(ErrorCode::kFailedPrecondition, fmt::format("branch \"{}\" is not ready", name));
  }
  if (b.production) return b;
  b.production = true;
  SCION_TRY(impl_->store->UpdateBranch(b));
  SCION_TRY(impl_->ApplyDurability(b));
  spdlog::info("msg=\"branch promoted\" database={} branch={}", db, name);
  return impl_->FindBranch(org, db, name);
}

Result<Branch> ControlPlane::Demote(const std::string& org, const std::string& db, const std::string& name) {
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, name));
  if (!b.production) return b;
  if (b.safe_migrations) {
    return MakeError(ErrorCode::kConflict, fmt::format("branch \"{}\" has safe migrations enabled", name),
                     fmt::format("disable them first: scion branch safe-migrations disable {} {}", db, name));
  }
  b.production = false;
  SCION_TRY(impl_->store->UpdateBranch(b));
  SCION_TRY(impl_->ApplyDurability(b));
  spdlog::info("msg=\"branch demoted\" database={} branch={}", db, name);
  return impl_->FindBranch(org, db, name);
}

Result<Branch> ControlPlane::SetSafeMigrations(const std::string& org, const std::string& db, const std::string& name,
                                               bool enabled) {
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, name));
  if (enabled && !b.production) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("safe migrations need a production branch; \"{}\" is a development branch", name),
                     fmt::format("promote it first: scion branch promote {} {}", db, name));
  }
  b.safe_migrations = enabled;
  SCION_TRY(impl_->store->UpdateBranch(b));
  impl_->directory->Bump();
  spdlog::info("msg=\"safe migrations {}\" database={} branch={}", enabled ? "enabled" : "disabled", db, name);
  return impl_->FindBranch(org, db, name);
}

Result<std::vector<schema::SchemaObject>> ControlPlane::BranchSchema(const std::string& org, const std::string& db,
                                                                     const std::string& name) {
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, name));
  if (b.state != BranchState::kReady) {
    return MakeError(ErrorCode::kFailedPrecondition, fmt::format("branch \"{}\" is not ready", name),
                     fmt::format("wait for it: scion branch show {} {}", db, name));
  }
  SCION_ASSIGN_OR_RETURN(auto conn, impl_->Internal(b));
  return schema::ReadSchema(*conn, b.database_name);
}

Result<std::unique_ptr<binlog::BinlogStream>> ControlPlane::OpenBinlog(const std::string& org, const std::string& db,
                                                                       const std::string& name,
                                                                       std::optional<std::string> from_gtid,
                                                                       std::set<std::string> tables) {
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, name));
  if (b.state != BranchState::kReady) {
    return MakeError(ErrorCode::kFailedPrecondition, fmt::format("branch \"{}\" is not ready", name),
                     fmt::format("wait for it: scion branch show {} {}", db, name));
  }
  if (from_gtid) SCION_TRY(binlog::ParseGtidPosition(*from_gtid));
  const auto& acc = impl_->fleet->accounts().internal;
  binlog::StreamOptions o;
  o.endpoint = impl_->fleet->SocketPath(b.id).string();
  o.user = acc.user;
  o.password = acc.password;
  o.start_position = std::move(from_gtid);
  o.schemas = {b.database_name};
  o.tables = std::move(tables);
  return std::make_unique<binlog::BinlogStream>(std::move(o));
}

Result<ControlPlane::BranchDiffResult> ControlPlane::DiffBranch(const std::string& org, const std::string& db,
                                                               const std::string& name) {
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, name));
  if (b.parent_branch.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition, fmt::format("branch \"{}\" has no parent to compare with", name),
                     fmt::format("it is the first branch of {}; see its schema with: scion branch schema {} {}", db, db,
                                 name));
  }
  SCION_ASSIGN_OR_RETURN(auto parent, impl_->FindBranch(org, db, b.parent_branch));
  for (const auto* x : {&b, &parent}) {
    if (x->state != BranchState::kReady) {
      return MakeError(ErrorCode::kFailedPrecondition, fmt::format("branch \"{}\" is not ready", x->name));
    }
  }
  BranchDiffResult out;
  SCION_ASSIGN_OR_RETURN(auto pconn, impl_->Internal(parent));
  SCION_ASSIGN_OR_RETURN(out.parent, schema::Introspect(*pconn, parent.database_name));
  SCION_ASSIGN_OR_RETURN(auto bconn, impl_->Internal(b));
  SCION_ASSIGN_OR_RETURN(out.branch, schema::Introspect(*bconn, b.database_name));
  out.statements = schema::Diff(out.parent, out.branch);
  out.findings = schema::Lint(out.parent, out.branch);
  if (out.statements.empty()) {
    out.verified = true;
  } else if (auto v = schema::Verify(*bconn, out.parent, out.branch, out.statements); v) {
    out.verified = true;
  } else {
    out.verification_error = v.error().message;
    spdlog::error("msg=\"diff verification failed\" database={} branch={} error={}", db, name,
                  log::Quote(out.verification_error));
  }
  return out;
}

fleet::InstanceStatus ControlPlane::InstanceStatusOf(const Branch& branch) const {
  return impl_->fleet->GetStatus(branch.id);
}

Result<ControlPlane::CreatedPassword> ControlPlane::CreatePassword(const std::string& org, const std::string& db,
                                                                   const std::string& branch, const std::string& name,
                                                                   const std::string& role, std::int64_t ttl_seconds,
                                                                   const std::string& created_by) {
  SCION_TRY(internal::ValidatePasswordName(name));
  SCION_ASSIGN_OR_RETURN(auto normalized_role, internal::NormalizeRole(role));
  SCION_TRY(internal::ValidateTtl(ttl_seconds));
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, branch));
  if (b.state != BranchState::kReady) {
    return MakeError(ErrorCode::kFailedPrecondition, fmt::format("branch \"{}\" is not ready", branch),
                     fmt::format("wait for it: scion branch show {} {}", db, branch));
  }
  CreatedPassword out{.password = {}, .plain_text = internal::NewPlainTextPassword()};
  // The slow hash takes tens of milliseconds: computed before taking the mutation lock.
  std::string native_verifier = HexEncode(mysql::NativeVerifier(out.plain_text));
  std::string slow_hash = mysql::SlowHash(out.plain_text);
  std::lock_guard mutating(impl_->mutate_mu);
  // Re-read under the lock: the branch may have been deleted meanwhile.
  SCION_ASSIGN_OR_RETURN(b, impl_->FindBranch(org, db, branch));
  auto now = NowUnixMillis();
  Password p{.id = "",
             .database_id = b.database_id,
             .database_name = b.database_name,
             .branch_id = b.id,
             .branch_name = b.name,
             .name = name,
             .username = "",
             .role = normalized_role,
             .native_verifier = std::move(native_verifier),
             .slow_hash = std::move(slow_hash),
             .ttl_seconds = ttl_seconds,
             .created_at = now,
             .expires_at = ttl_seconds > 0 ? now + ttl_seconds * 1000 : 0,
             .created_by = created_by};
  // A taken username (or id) is drawn again; with 36^20 usernames a second collision is absurd.
  for (int attempt = 0;; ++attempt) {
    p.id = RandomId(12);
    p.username = internal::NewUsername();
    auto inserted = impl_->store->InsertPassword(p);
    if (inserted) break;
    if (inserted.error().code != ErrorCode::kAlreadyExists || attempt == 4) return std::unexpected(inserted.error());
  }
  spdlog::info("msg=\"password created\" database={} branch={} id={} role={} ttl={}", db, branch, p.id, p.role,
               ttl_seconds);
  out.password = std::move(p);
  return out;
}

Result<Page<Password>> ControlPlane::ListPasswords(const std::string& org, const std::string& db,
                                                   const std::optional<std::string>& branch, PageRequest req) {
  req = Clamp(req);
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  std::optional<std::string> branch_id;
  if (branch) {
    SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, *branch));
    branch_id = b.id;
  }
  Page<Password> page{.page = req.page, .per_page = req.per_page};
  SCION_ASSIGN_OR_RETURN(page.items,
                         impl_->store->ListPasswords(d.id, branch_id, req.per_page, (req.page - 1) * req.per_page));
  SCION_ASSIGN_OR_RETURN(page.total, impl_->store->CountPasswords(d.id, branch_id));
  return page;
}

Result<Password> ControlPlane::GetPassword(const std::string& org, const std::string& db, const std::string& branch,
                                           const std::string& id) {
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, branch));
  auto p = impl_->store->FindPassword(b.id, id);
  if (!p && p.error().code == ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("password \"{}\" not found on branch \"{}\" of database \"{}\"", id, branch, db),
                     fmt::format("run: scion password list {} {}", db, branch));
  }
  return p;
}

Status ControlPlane::DeletePassword(const std::string& org, const std::string& db, const std::string& branch,
                                    const std::string& id) {
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto p, GetPassword(org, db, branch, id));
  SCION_TRY(impl_->store->DeletePassword(p.id));
  impl_->directory->Bump();
  spdlog::info("msg=\"password deleted\" database={} branch={} id={}", db, branch, id);
  return Ok();
}

Result<Password> ControlPlane::RenewPassword(const std::string& org, const std::string& db, const std::string& branch,
                                             const std::string& id) {
  std::lock_guard mutating(impl_->mutate_mu);
  SCION_ASSIGN_OR_RETURN(auto p, GetPassword(org, db, branch, id));
  if (p.ttl_seconds <= 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("password \"{}\" has no ttl: it never expires, so there is nothing to renew", id),
                     fmt::format("to get an expiring password, create one with a ttl: scion password create {} {} "
                                 "NAME --ttl 24h",
                                 db, branch));
  }
  p.expires_at = NowUnixMillis() + p.ttl_seconds * 1000;
  SCION_TRY(impl_->store->UpdatePasswordExpiry(p.id, p.expires_at));
  impl_->directory->Bump();
  spdlog::info("msg=\"password renewed\" database={} branch={} id={}", db, branch, id);
  return p;
}

gateway::Directory& ControlPlane::directory() { return *impl_->directory; }

void ControlPlane::SetGatewayAddress(std::string host_port) {
  std::lock_guard lock(impl_->mu);
  impl_->gateway_address = std::move(host_port);
}

std::string ControlPlane::GatewayAddress() const {
  std::lock_guard lock(impl_->mu);
  return impl_->gateway_address;
}

void ControlPlane::SetGatewayCa(std::string pem) {
  std::lock_guard lock(impl_->mu);
  impl_->gateway_ca = std::move(pem);
}

std::string ControlPlane::GatewayCa() const {
  std::lock_guard lock(impl_->mu);
  return impl_->gateway_ca;
}

Result<nlohmann::json> ControlPlane::CreateDeployRequest(const std::string& org, const std::string& db,
                                                         const std::string& branch, const std::string& into,
                                                         const std::string& notes, bool auto_apply,
                                                         const std::string& created_by) {
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  SCION_ASSIGN_OR_RETURN(auto b, impl_->FindBranch(org, db, branch));
  std::string target = into.empty() ? (b.parent_branch.empty() ? d.default_branch : b.parent_branch) : into;
  SCION_ASSIGN_OR_RETURN(auto t, impl_->FindBranch(org, db, target));
  return impl_->deploys->Create(d, b, t, notes, auto_apply, created_by);
}

Result<std::vector<nlohmann::json>> ControlPlane::ListDeployRequests(const std::string& org, const std::string& db) {
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  return impl_->deploys->List(d);
}

Result<nlohmann::json> ControlPlane::GetDeployRequest(const std::string& org, const std::string& db, int number) {
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  return impl_->deploys->Get(d, number);
}

Result<nlohmann::json> ControlPlane::DeployRequestAction(const std::string& org, const std::string& db, int number,
                                                         const std::string& action, const DeployActionOptions& o) {
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  auto& e = *impl_->deploys;
  if (action == "deploy") return e.Deploy(d, number, o.instant);
  if (action == "apply-deploy") return e.Apply(d, number);
  if (action == "cancel") return e.Cancel(d, number);
  if (action == "revert") return e.Revert(d, number);
  if (action == "skip-revert") return e.SkipRevert(d, number);
  if (action == "close") return e.Close(d, number);
  if (action == "review") return e.Review(d, number, o.by, o.approve, o.comment);
  return MakeError(ErrorCode::kNotFound, fmt::format("unknown deploy request action \"{}\"", action));
}

Result<bool> ControlPlane::RequireApprovalForDeploy(const Database& db) {
  SCION_ASSIGN_OR_RETURN(auto v, impl_->store->GetSetting("database." + db.id + ".require_approval"));
  return v && *v == "true";
}

Status ControlPlane::SetRequireApprovalForDeploy(const std::string& org, const std::string& db, bool required) {
  SCION_ASSIGN_OR_RETURN(auto d, impl_->FindDatabase(org, db));
  return impl_->store->PutSetting("database." + d.id + ".require_approval", required ? "true" : "false");
}

}  // namespace scion::control
