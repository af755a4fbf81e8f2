#include "fleet/fleet.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/crypto.h"
#include "base/files.h"
#include "base/log.h"
#include "mysql/admin_connection.h"

extern char** environ;

namespace scion::fleet {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string_view InstanceStateName(InstanceState state) {
  switch (state) {
    case InstanceState::kStopped: return "stopped";
    case InstanceState::kStarting: return "starting";
    case InstanceState::kRunning: return "running";
    case InstanceState::kRestarting: return "restarting";
    case InstanceState::kFailed: return "failed";
  }
  return "unknown";
}

namespace {

constexpr std::size_t kMaxSocketPath = 107;  // sizeof(sockaddr_un::sun_path) - 1

fs::path DataDir(const fs::path& folder) { return folder / "data"; }
fs::path ConfigPath(const fs::path& folder) { return folder / "my.cnf"; }
fs::path PidPath(const fs::path& folder) { return folder / "mariadbd.pid"; }
fs::path ErrorLogPath(const fs::path& folder) { return folder / "error.log"; }

bool RunningAsRoot() { return ::geteuid() == 0; }

// Spawns `argv` in its own session with stdin from /dev/null and stdout/stderr to `log`.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all_default;
  sigfillset(&all_default);
  posix_spawnattr_setsigdefault(&attr, &all_default);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_USEVFORK);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return MakeError(ErrorCode::kInternal, fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)),
                     "run scripts/install-deps to install MariaDB");
  }
  return pid;
}

// The lines of a log file that say ERROR (else its last `max_lines` lines), for error messages.
std::string Tail(const fs::path& path, int max_lines = 5) {
  auto content = ReadFile(path);
  if (!content) return {};
  std::vector<std::string> lines;
  std::string line;
  for (char c : *content) {
    if (c == '\n') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  std::vector<std::string> errors;
  for (const auto& l : lines) {
    if (l.find("ERROR") != std::string::npos) errors.push_back(l);
  }
  if (!errors.empty()) lines = std::move(errors);
  std::string out;
  for (std::size_t i = lines.size() > static_cast<std::size_t>(max_lines) ? lines.size() - max_lines : 0;
       i < lines.size(); ++i) {
    if (!out.empty()) out += " | ";
    out += lines[i];
  }
  return out;
}

// True when `pid` is a live mariadbd started with `config`.
bool IsOurMariadbd(pid_t pid, const fs::path& config) {
  if (pid <= 0) return false;
  auto cmdline = ReadFile(fs::path("/proc") / std::to_string(pid) / "cmdline");
  if (!cmdline) return false;
  if (cmdline->find(config.string()) == std::string::npos) return false;
  auto stat = ReadFile(fs::path("/proc") / std::to_string(pid) / "stat");
  if (!stat) return false;
  auto close = stat->rfind(')');
  return close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] != 'Z';
}

pid_t ReadPid(const fs::path& folder) {
  auto content = ReadFile(PidPath(folder));
  if (!content) return 0;
  try {
    return static_cast<pid_t>(std::stol(*content));
  } catch (...) {
    return 0;
  }
}

}  // namespace

Accounts GenerateAccounts() {
  auto account = [](const char* user) { return Account{user, RandomHex(24)}; };
  return {account("scion_internal"), account("scion_reader"), account("scion_writer"), account("scion_readwriter"),
          account("scion_admin")};
}

std::string RenderConfig(const InstanceSpec& spec, const fs::path& folder, bool run_as_root,
                         const InstanceSizing& sizing) {
  bool prod = spec.kind == InstanceKind::kProduction;
  std::string c;
  c += "# Generated by scion for instance " + spec.id + "; rewritten at every start.\n";
  c += "[mysqld]\n";
  if (run_as_root) c += "user=root\n";
  c += fmt::format("datadir={}\n", DataDir(folder).string());
  c += fmt::format("socket={}\n", (folder / "mysqld.sock").string());
  c += fmt::format("pid_file={}\n", PidPath(folder).string());
  c += fmt::format("log_error={}\n", ErrorLogPath(folder).string());
  c += fmt::format("init_file={}\n", (folder / "init.sql").string());
  c += fmt::format("tmpdir={}\n", (folder / "tmp").string());
  c += "skip_networking\nskip_name_resolve\n";
  c += fmt::format("server_id={}\n", spec.server_id);
  c += "log_bin=binlog\nbinlog_format=ROW\nbinlog_row_image=FULL\n";
  c += "gtid_strict_mode=ON\nbinlog_expire_logs_seconds=604800\n";
  // Column names, signedness, charsets and ENUM/SET labels in every table map: the change stream
  // decodes rows without asking information_schema (which may have moved on since).
  c += "binlog_row_metadata=FULL\n";
  c += "max_allowed_packet=256M\n";
  c += "character_set_server=utf8mb4\ncollation_server=utf8mb4_general_ci\n";
  c += "innodb_file_per_table=ON\n";
  // Interleaved AUTO_INCREMENT (MySQL 8's default, safe with row-based binlogs): without it an
  // INSERT ... SELECT (an online copy's chunk, pt-osc's too) holds a table lock for its whole
  // run, and every other insert into that table waits behind it.
  c += "innodb_autoinc_lock_mode=2\n";
  c += fmt::format("innodb_buffer_pool_size={}\n", sizing.buffer_pool(spec.kind));
  if (prod) {
    c += "innodb_flush_log_at_trx_commit=1\nsync_binlog=1\n";
    c += "innodb_log_file_size=64M\n";
    c += "max_connections=500\n";
  } else {
    // Small footprint so dozens of development branches fit on a laptop. Commits survive a
    // crash of mariadbd (the OS holds them), not a crash of the machine.
    c += "innodb_flush_log_at_trx_commit=2\nsync_binlog=0\n";
    c += "innodb_log_file_size=8M\ninnodb_log_buffer_size=4M\n";
    c += "performance_schema=OFF\nkey_buffer_size=1M\ntable_open_cache=400\n";
    c += "max_connections=200\n";
  }
  return c;
}

std::string RenderInitFile(const InstanceSpec& spec, const Accounts& a) {
  using mysql::QuoteIdentifier;
  using mysql::QuoteString;
  std::string db = QuoteIdentifier(spec.database);
  std::string s = "SET sql_log_bin=0;\n";
  auto account = [&](const Account& acc) {
    std::string who = QuoteString(acc.user) + "@'localhost'";
    s += fmt::format("CREATE USER IF NOT EXISTS {} IDENTIFIED BY {};\n", who, QuoteString(acc.password));
    s += fmt::format("ALTER USER {} IDENTIFIED BY {};\n", who, QuoteString(acc.password));
    return who;
  };
  std::string internal = account(a.internal);
  s += fmt::format("GRANT ALL PRIVILEGES ON *.* TO {} WITH GRANT OPTION;\n", internal);
  s += fmt::format("CREATE DATABASE IF NOT EXISTS {};\n", db);
  s += fmt::format("GRANT SELECT, SHOW VIEW ON {}.* TO {};\n", db, account(a.reader));
  s += fmt::format("GRANT INSERT, UPDATE, DELETE ON {}.* TO {};\n", db, account(a.writer));
  s += fmt::format("GRANT SELECT, INSERT, UPDATE, DELETE, SHOW VIEW, LOCK TABLES, CREATE TEMPORARY TABLES "
                   "ON {}.* TO {};\n",
                   db, account(a.readwriter));
  s += fmt::format(
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE VIEW, SHOW VIEW, "
      "CREATE TEMPORARY TABLES, LOCK TABLES, TRIGGER, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, EVENT "
      "ON {}.* TO {};\n",
      db, account(a.admin));
  return s;
}

namespace {

struct Instance {
  InstanceSpec spec;
  fs::path folder;
  std::mutex op_mu;  // serializes Start/Stop/Destroy and supervisor restarts of this instance

  // Guarded by Fleet::Impl::mu_.
  InstanceStatus status;
  bool supervised = false;  // desired state: running
  bool is_child = false;    // true when this daemon spawned it (waitpid applies)
  Clock::time_point next_restart{};
  Clock::time_point started_at{};
  std::chrono::milliseconds backoff{1000};
};

}  // namespace

class Fleet::Impl {
 public:
  explicit Impl(FleetOptions options) : options_(std::move(options)) {}

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (supervisor_.joinable()) supervisor_.join();
  }

  Status Init() {
    SCION_TRY(MakeDirs(options_.root, 0700));
    if (!fs::exists(options_.template_dir / "mysql")) SCION_TRY(MakeTemplate());
    supervisor_ = std::thread([this] { SuperviseLoop(); });
    return Ok();
  }

  Status MakeTemplate() {
    fs::path tmp = options_.template_dir.string() + ".tmp";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    SCION_TRY(MakeDirs(tmp, 0700));
    fs::path cnf = tmp.string() + ".cnf";
    // A private tmpdir: bootstrap servers running at the same time (several data folders on one
    // machine) otherwise collide on temporary table names in /tmp.
    fs::path tmpdir = tmp.string() + ".tmpdir";
    SCION_TRY(MakeDirs(tmpdir, 0700));
    SCION_TRY(WriteFileAtomic(cnf, fmt::format("[mysqld]\ninnodb_log_file_size=8M\ncharacter_set_server=utf8mb4\n"
                                               "tmpdir={}\n",
                                               tmpdir.string())));
    std::vector<std::string> argv = {options_.install_db, "--defaults-file=" + cnf.string(),
                                     "--datadir=" + tmp.string(), "--auth-root-authentication-method=socket",
                                     "--skip-test-db"};
    if (RunningAsRoot()) argv.push_back("--user=root");
    fs::path log = options_.template_dir.string() + "-install.log";
    spdlog::info("msg=\"creating MariaDB template data folder\" path={}", log::Quote(options_.template_dir.string()));
    auto start = Clock::now();
    SCION_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, log));
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    fs::remove(cnf, ec);
    fs::remove_all(tmpdir, ec);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("mariadb-install-db failed: {}", Tail(log)),
                       "see " + log.string());
    }
    fs::rename(tmp, options_.template_dir, ec);
    if (ec) return MakeError(ErrorCode::kInternal, "cannot move template into place: " + ec.message());
    spdlog::info("msg=\"template ready\" ms={}",
                 std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
    return Ok();
  }

  fs::path Folder(const std::string& id) const { return options_.root / id; }

  Status Create(const InstanceSpec& spec) {
    fs::path folder = Folder(spec.id);
    if ((folder / "mysqld.sock").string().size() > kMaxSocketPath) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("the data folder path is too long for a unix socket: {}", folder.string()),
                       "use a shorter --data-dir");
    }
    if (fs::exists(folder)) {
      return MakeError(ErrorCode::kAlreadyExists, fmt::format("instance folder {} exists", folder.string()));
    }
    fs::path tmp = folder.string() + ".creating";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    SCION_TRY(MakeDirs(tmp, 0700));
    fs::copy(options_.template_dir, DataDir(tmp), fs::copy_options::recursive, ec);
    if (ec) {
      fs::remove_all(tmp);
      return MakeError(ErrorCode::kInternal, "cannot copy the template data folder: " + ec.message());
    }
    fs::rename(tmp, folder, ec);
    if (ec) return MakeError(ErrorCode::kInternal, "cannot move instance folder into place: " + ec.message());
    return Ok();
  }

  std::shared_ptr<Instance> Get(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = instances_.find(id);
    return it == instances_.end() ? nullptr : it->second;
  }

  // The instance record for `spec.id`, created on first use. Its `spec` is set by the caller
  // while holding the record's op_mu (the supervisor reads it under op_mu).
  std::shared_ptr<Instance> GetOrAdd(const InstanceSpec& spec) {
    std::lock_guard lock(mu_);
    auto& slot = instances_[spec.id];
    if (!slot) {
      slot = std::make_shared<Instance>();
      slot->folder = Folder(spec.id);
      slot->spec = spec;
    }
    return slot;
  }

  Status Start(const InstanceSpec& spec) {
    if (!fs::exists(Folder(spec.id) / "data")) {
      return MakeError(ErrorCode::kNotFound, fmt::format("instance {} has no data folder", spec.id));
    }
    auto inst = GetOrAdd(spec);
    std::lock_guard op(inst->op_mu);
    inst->spec = spec;
    {
      std::lock_guard lock(mu_);
      if (inst->supervised && inst->status.state == InstanceState::kRunning) return Ok();
      inst->status.state = InstanceState::kStarting;
    }
    auto started = StartLocked(*inst);
    std::lock_guard lock(mu_);
    inst->supervised = true;
    if (!started) {
      inst->status.state = InstanceState::kFailed;
      inst->status.last_error = started.error().message;
      inst->next_restart = Clock::now() + inst->backoff;
      return started;
    }
    return Ok();
  }

  std::string Config(const InstanceSpec& spec, const fs::path& folder) const {
    return RenderConfig(spec, folder, RunningAsRoot(), options_.sizing);
  }

  // An adopted or promoted instance runs with the buffer pool of the configuration it started
  // with: resize it to the one configured now for its kind (online; a size it already has, after
  // MariaDB's rounding, is a no-op).
  // A failure is logged, not fatal: the instance serves with its old pool.
  void ApplyBufferPool(const Instance& inst) {
    std::uint64_t want = options_.sizing.buffer_pool(inst.spec.kind);
    auto conn = mysql::AdminConnection::Connect(InternalConnect(inst));
    Status set = conn ? (*conn)->Execute(fmt::format("SET GLOBAL innodb_buffer_pool_size = {}", want))
                      : Status(std::unexpected(conn.error()));
    if (!set) {
      spdlog::warn("msg=\"cannot resize the buffer pool\" instance={} bytes={} error={}", inst.spec.id, want,
                   log::Quote(set.error().ToString()));
    }
  }

  // Precondition: inst.op_mu held.
  Status StartLocked(Instance& inst) {
    SCION_TRY(WriteFileAtomic(ConfigPath(inst.folder), Config(inst.spec, inst.folder), 0600));
    SCION_TRY(WriteFileAtomic(inst.folder / "init.sql", RenderInitFile(inst.spec, options_.accounts), 0600));

    pid_t existing = ReadPid(inst.folder);
    if (IsOurMariadbd(existing, ConfigPath(inst.folder))) {
      spdlog::info("msg=\"adopting running instance\" instance={} pid={}", inst.spec.id, existing);
      // An adopted instance keeps its old init file applied; assert accounts now.
      SCION_TRY(WaitReady(inst, existing, /*is_child=*/false));
      SCION_TRY(ApplyInitFile(inst));
      ApplyBufferPool(inst);
      SetRunning(inst, existing, false);
      return Ok();
    }
    std::error_code ec;
    fs::remove(PidPath(inst.folder), ec);
    fs::remove(inst.folder / "mysqld.sock", ec);
    SCION_TRY(MakeDirs(inst.folder / "tmp", 0700));
    std::vector<std::string> argv = {options_.mariadbd, "--defaults-file=" + ConfigPath(inst.folder).string()};
    SCION_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, inst.folder / "mariadbd.out"));
    auto ready = WaitReady(inst, pid, /*is_child=*/true);
    if (!ready) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return ready;
    }
    SetRunning(inst, pid, true);
    spdlog::info("msg=\"instance started\" instance={} pid={}", inst.spec.id, pid);
    return Ok();
  }

  void SetRunning(Instance& inst, pid_t pid, bool is_child) {
    std::lock_guard lock(mu_);
    inst.status.state = InstanceState::kRunning;
    inst.status.pid = pid;
    inst.is_child = is_child;
    inst.started_at = Clock::now();
  }

  mysql::ConnectOptions InternalConnect(const Instance& inst) const {
    return {.unix_socket = (inst.folder / "mysqld.sock").string(),
            .user = options_.accounts.internal.user,
            .password = options_.accounts.internal.password,
            .database = {},
            .timeout = std::chrono::milliseconds(5000)};
  }

  Status ApplyInitFile(const Instance& inst) {
    SCION_ASSIGN_OR_RETURN(auto conn, mysql::AdminConnection::Connect(InternalConnect(inst)));
    std::string sql = RenderInitFile(inst.spec, options_.accounts);
    std::size_t start = 0;
    while (start < sql.size()) {
      auto end = sql.find(";\n", start);
      if (end == std::string::npos) break;
      SCION_TRY(conn->Execute(std::string_view(sql).substr(start, end - start)));
      start = end + 2;
    }
    return Ok();
  }

  // Polls until the instance accepts the internal account and its database exists.
  Status WaitReady(const Instance& inst, pid_t pid, bool is_child) {
    auto deadline = Clock::now() + options_.start_timeout;
    fs::path sock = inst.folder / "mysqld.sock";
    std::string last;
    while (Clock::now() < deadline) {
      if (is_child) {
        int wstatus = 0;
        if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
          return MakeError(ErrorCode::kBackendUnavailable,
                           fmt::format("mariadbd for {} exited during start: {}", inst.spec.id,
                                       Tail(ErrorLogPath(inst.folder))),
                           "see " + ErrorLogPath(inst.folder).string());
        }
      } else if (!IsOurMariadbd(pid, ConfigPath(inst.folder))) {
        return MakeError(ErrorCode::kBackendUnavailable, "adopted mariadbd exited");
      }
      if (fs::exists(sock)) {
        auto opts = InternalConnect(inst);
        opts.timeout = 2000ms;
        auto conn = mysql::AdminConnection::Connect(opts);
        if (conn) {
          auto rows = (*conn)->Query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = " +
                                     mysql::QuoteString(inst.spec.database));
          if (rows && !rows->rows.empty()) return Ok();
          last = rows ? "database not created yet" : rows.error().message;
        } else {
          last = conn.error().message;
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    return MakeError(ErrorCode::kBackendUnavailable,
                     fmt::format("instance {} did not become ready in {} ms: {}", inst.spec.id,
                                 options_.start_timeout.count(), last));
  }

  bool Alive(const Instance& inst, pid_t pid, bool is_child, int* wstatus) {
    if (pid <= 0) return false;
    if (is_child) {
      pid_t r = ::waitpid(pid, wstatus, WNOHANG);
      return r == 0;
    }
    return IsOurMariadbd(pid, ConfigPath(inst.folder));
  }

  // Precondition: inst.op_mu held.
  Status StopLocked(Instance& inst, std::chrono::milliseconds grace) {
    pid_t pid;
    bool is_child;
    {
      std::lock_guard lock(mu_);
      inst.supervised = false;
      pid = inst.status.pid;
      is_child = inst.is_child;
    }
    if (pid <= 0) {
      pid_t from_file = ReadPid(inst.folder);
      if (IsOurMariadbd(from_file, ConfigPath(inst.folder))) {
        pid = from_file;
        is_child = false;
      }
    }
    if (pid > 0) {
      int wstatus = 0;
      if (Alive(inst, pid, is_child, &wstatus)) {
        ::kill(pid, SIGTERM);
        auto deadline = Clock::now() + grace;
        while (Alive(inst, pid, is_child, &wstatus)) {
          if (Clock::now() > deadline) {
            spdlog::warn("msg=\"instance did not stop in time; killing\" instance={} pid={}", inst.spec.id, pid);
            ::kill(pid, SIGKILL);
            if (is_child) ::waitpid(pid, &wstatus, 0);
            break;
          }
          std::this_thread::sleep_for(20ms);
        }
      }
      spdlog::info("msg=\"instance stopped\" instance={} pid={}", inst.spec.id, pid);
    }
    std::lock_guard lock(mu_);
    inst.status.state = InstanceState::kStopped;
    inst.status.pid = 0;
    return Ok();
  }

  Status UpdateSpec(const InstanceSpec& spec) {
    auto inst = GetOrAdd(spec);
    std::lock_guard op(inst->op_mu);
    bool kind_changed = inst->spec.kind != spec.kind;
    inst->spec = spec;
    SCION_TRY(WriteFileAtomic(ConfigPath(inst->folder), Config(spec, inst->folder), 0600));
    if (kind_changed && GetStatus(spec.id).state == InstanceState::kRunning) ApplyBufferPool(*inst);
    return Ok();
  }

  Status Stop(const std::string& id, std::chrono::milliseconds grace) {
    auto inst = Get(id);
    if (!inst) {
      // Not known to this daemon run: it may still be running from an earlier one.
      InstanceSpec spec;
      spec.id = id;
      inst = GetOrAdd(spec);
    }
    std::lock_guard op(inst->op_mu);
    return StopLocked(*inst, grace);
  }

  Status Destroy(const std::string& id) {
    SCION_TRY(Stop(id, 10s));
    {
      std::lock_guard lock(mu_);
      instances_.erase(id);
    }
    std::error_code ec;
    fs::remove_all(Folder(id), ec);
    if (ec) return MakeError(ErrorCode::kInternal, "cannot remove instance folder: " + ec.message());
    return Ok();
  }

  void StopAll() {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, inst] : instances_) ids.push_back(id);
    }
    std::vector<std::thread> threads;
    for (auto& id : ids) threads.emplace_back([this, id] { (void)Stop(id, 60s); });
    for (auto& t : threads) t.join();
  }

  InstanceStatus GetStatus(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end()) return {};
    return it->second->status;
  }

  void SuperviseLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, options_.supervise_interval, [this] { return stopping_; });
      if (stopping_) break;
      std::vector<std::shared_ptr<Instance>> all;
      for (auto& [id, inst] : instances_) all.push_back(inst);
      lock.unlock();
      for (auto& inst : all) SuperviseOne(*inst);
      lock.lock();
    }
  }

  void SuperviseOne(Instance& inst) {
    std::unique_lock op(inst.op_mu, std::try_to_lock);
    if (!op.owns_lock()) return;  // a Start/Stop is in progress
    pid_t pid;
    bool is_child;
    InstanceState state;
    {
      std::lock_guard lock(mu_);
      if (!inst.supervised) return;
      pid = inst.status.pid;
      is_child = inst.is_child;
      state = inst.status.state;
    }
    if (state == InstanceState::kRunning) {
      int wstatus = 0;
      if (Alive(inst, pid, is_child, &wstatus)) {
        std::lock_guard lock(mu_);
        if (Clock::now() - inst.started_at > 60s) inst.backoff = 1000ms;
        return;
      }
      std::string how = "exited";
      if (is_child && WIFSIGNALED(wstatus)) how = fmt::format("killed by signal {}", WTERMSIG(wstatus));
      if (is_child && WIFEXITED(wstatus)) how = fmt::format("exited with status {}", WEXITSTATUS(wstatus));
      spdlog::warn("msg=\"instance crashed; restarting\" instance={} pid={} how={} backoff_ms={}", inst.spec.id,
                   pid, log::Quote(how), inst.backoff.count());
      {
        std::lock_guard lock(mu_);
        inst.status.state = InstanceState::kRestarting;
        inst.status.pid = 0;
        inst.status.last_error = "mariadbd " + how;
        inst.next_restart = Clock::now() + inst.backoff;
        // An instance that keeps crashing soon after starting waits longer each time.
        bool short_lived = Clock::now() - inst.started_at < 60s;
        inst.backoff = short_lived ? std::min(inst.backoff * 2, options_.max_backoff) : 1000ms;
      }
      Notify(inst.spec.id, "crashed");
      return;
    }
    if (state == InstanceState::kRestarting || state == InstanceState::kFailed) {
      if (Clock::now() < inst.next_restart) return;
      auto started = StartLocked(inst);
      std::lock_guard lock(mu_);
      if (started) {
        inst.status.restarts++;
        spdlog::info("msg=\"instance restarted\" instance={} restarts={}", inst.spec.id, inst.status.restarts);
      } else {
        inst.status.state = InstanceState::kFailed;
        inst.status.last_error = started.error().message;
        inst.backoff = std::min(inst.backoff * 2, options_.max_backoff);
        inst.next_restart = Clock::now() + inst.backoff;
        spdlog::error("msg=\"instance restart failed\" instance={} error={} next_try_ms={}", inst.spec.id,
                      log::Quote(started.error().message), inst.backoff.count());
      }
    }
  }

  void Notify(const std::string& id, const std::string& event) {
    EventCallback cb;
    {
      std::lock_guard lock(mu_);
      cb = callback_;
    }
    if (cb) cb(id, event);
  }

  FleetOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Instance>> instances_;  // guarded by mu_
  bool stopping_ = false;                                       // guarded by mu_
  EventCallback callback_;                                      // guarded by mu_
  std::thread supervisor_;
};

Fleet::Fleet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Fleet::~Fleet() = default;

Result<std::unique_ptr<Fleet>> Fleet::Open(FleetOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  SCION_TRY(impl->Init());
  return std::unique_ptr<Fleet>(new Fleet(std::move(impl)));
}

Status Fleet::Create(const InstanceSpec& spec) { return impl_->Create(spec); }
bool Fleet::Exists(const std::string& id) const { return fs::exists(impl_->Folder(id) / "data"); }
Status Fleet::Start(const InstanceSpec& spec) { return impl_->Start(spec); }
Status Fleet::Stop(const std::string& id, std::chrono::milliseconds grace) { return impl_->Stop(id, grace); }
Status Fleet::UpdateSpec(const InstanceSpec& spec) { return impl_->UpdateSpec(spec); }
Status Fleet::Destroy(const std::string& id) { return impl_->Destroy(id); }
void Fleet::StopAll() { impl_->StopAll(); }
InstanceStatus Fleet::GetStatus(const std::string& id) const { return impl_->GetStatus(id); }
fs::path Fleet::SocketPath(const std::string& id) const { return impl_->Folder(id) / "mysqld.sock"; }
const Accounts& Fleet::accounts() const { return impl_->options_.accounts; }
void Fleet::SetEventCallback(EventCallback callback) {
  std::lock_guard lock(impl_->mu_);
  impl_->callback_ = std::move(callback);
}

}  // namespace scion::fleet
