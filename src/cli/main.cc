// The `scion` command: `scion server` runs the daemon; every other command is an API client.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <thread>

#include "api/client.h"
#include "api/daemon.h"
#include "base/log.h"
#include "cli/connect.h"
#include "cli/credentials.h"
#include "cli/output.h"
#include "cli/passwords.h"
#include "cli/schema_diff.h"
#include "cli/text_diff.h"

namespace scion::cli {
namespace {
using json = nlohmann::json;
using api::UrlEncode;

struct Globals {
  std::string format = "human";
  std::string server;
  std::string token;
  std::string org = "default";
};

const std::vector<Column> kDatabaseColumns = {{"NAME", "name"},          {"STATE", "state"},
                                              {"DEFAULT BRANCH", "default_branch"},
                                              {"BRANCHES", "branches_count"}, {"CREATED AT", "created_at"}};
const std::vector<Column> kBranchColumns = {{"NAME", "name"},           {"PARENT", "parent_branch"},
                                            {"PRODUCTION", "production"}, {"SAFE MIGRATIONS", "safe_migrations"},
                                            {"STATE", "state"},          {"INSTANCE", "instance.state"},
                                            {"CREATED AT", "created_at"}};

const std::vector<Column> kPasswordColumns = {{"NAME", "name"},         {"BRANCH", "database_branch.name"},
                                              {"ID", "id"},             {"USERNAME", "username"},
                                              {"ROLE", "role"},         {"EXPIRES AT", "expires_at"},
                                              {"CREATED AT", "created_at"}};

int Fail(const Error& e) {
  std::fprintf(stderr, "Error: %s\n", e.ToString().c_str());
  return ExitCodeFor(e.code);
}

class Commands {
 public:
  explicit Commands(Globals& g) : g_(g) {}

  // Every client command starts here: format and credentials are checked before any request.
  Result<api::Client> Client() {
    SCION_ASSIGN_OR_RETURN(format_, ParseFormat(g_.format));
    auto creds = ResolveCredentials(g_.server, g_.token);
    if (creds.token.empty()) {
      return MakeError(ErrorCode::kUnauthenticated, "not logged in",
                       "run: scion auth login --token ID:TOKEN; the admin token is in <data-dir>/admin-token");
    }
    source_ = creds.source;
    return api::Client({.server = creds.server, .token = creds.token});
  }

  std::string Org() const { return "/v1/organizations/" + UrlEncode(g_.org); }
  std::string Db(const std::string& db) const { return Org() + "/databases/" + UrlEncode(db); }
  std::string BranchPath(const std::string& db, const std::string& b) const {
    return Db(db) + "/branches/" + UrlEncode(b);
  }

  int Print(const json& value, const std::vector<Column>& columns) {
    std::fputs(Render(value, columns, format_).c_str(), stdout);
    return kExitOk;
  }

  int Message(const std::string& human, const json& value) {
    if (format_ == Format::kHuman) {
      std::printf("%s\n", human.c_str());
    } else {
      std::fputs(Render(value, {{"RESULT", "result"}}, format_).c_str(), stdout);
    }
    return kExitOk;
  }

  // Polls `path` until its "state" is ready (exit 0) or error (exit 1), showing progress.
  int Wait(const api::Client& client, const std::string& path, const std::string& what, int timeout_s,
           const std::vector<Column>& columns) {
    bool tty = ::isatty(STDERR_FILENO);
    auto start = std::chrono::steady_clock::now();
    static const char* kSpin[] = {"|", "/", "-", "\\"};
    if (!tty) std::fprintf(stderr, "Waiting for %s to be ready...\n", what.c_str());
    for (int tick = 0;; ++tick) {
      auto r = client.Get(path);
      if (!r) return Fail(r.error());
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string state = r->value("state", "");
      if (state == "ready" || state == "error") {
        if (tty) std::fprintf(stderr, "\r\033[K");
        if (state == "error") {
          return Fail(Error{ErrorCode::kInternal,
                            fmt::format("{} failed: {}", what, r->value("error", std::string("unknown error"))),
                            "see the server log for details"});
        }
        std::fprintf(stderr, "%s is ready (%.1fs)\n", what.c_str(), elapsed);
        return Print(*r, columns);
      }
      if (elapsed > timeout_s) {
        if (tty) std::fprintf(stderr, "\n");
        std::fprintf(stderr, "Error: %s is still %s after %d s (check: scion branch show)\n", what.c_str(),
                     state.c_str(), timeout_s);
        return kExitTimeout;
      }
      if (tty) std::fprintf(stderr, "\r%s %s is %s... %.1fs", kSpin[tick % 4], what.c_str(), state.c_str(), elapsed);
      // Poll fast at first (branches are usually ready in well under a second), then back off.
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(250, 20 + 20 * tick)));
    }
  }

  Format format() const { return format_; }
  void set_format(Format f) { format_ = f; }
  const std::string& source() const { return source_; }

 private:
  Globals& g_;
  Format format_ = Format::kHuman;
  std::string source_;
};

#define CLIENT_OR_FAIL(name)         \
  auto name##_r = cmd.Client();      \
  if (!name##_r) return Fail(name##_r.error()); \
  auto& name = *name##_r

void AddServer(CLI::App& app, std::function<int()>& action) {
  auto* s = app.add_subcommand("server", "Run the Scion daemon in the foreground (API, managed MariaDB instances)");
  auto opts = std::make_shared<api::DaemonOptions>();
  auto data_dir = std::make_shared<std::string>();
  auto level = std::make_shared<std::string>("info");
  s->add_option("--data-dir", *data_dir, "Data folder (default: $SCION_HOME, else ~/.local/share/scion)");
  s->add_option("--http-addr", opts->http_addr, "Address of the HTTP API (port 0 picks a free port)")
      ->capture_default_str();
  s->add_option("--log-level", *level, "trace, debug, info, warn, error or off")->capture_default_str();
  s->add_option("--mariadbd", opts->mariadbd, "The mariadbd program to run")->capture_default_str();
  s->add_option("--mariadb-install-db", opts->install_db, "The mariadb-install-db program")->capture_default_str();
  s->add_option("--production-buffer-pool", opts->sizing.production_buffer_pool,
                "InnoDB buffer pool of each production branch's MariaDB, e.g. 512M or 4G (a ceiling: pages are "
                "taken as data is read; applied to running instances too)")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("1G");
  s->add_option("--development-buffer-pool", opts->sizing.development_buffer_pool,
                "InnoDB buffer pool of each development branch's MariaDB")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("32M");
  auto& gw = opts->gateway;
  auto idle_timeout = std::make_shared<int>(static_cast<int>(gw.idle_timeout.count()));
  auto connect_timeout = std::make_shared<int>(static_cast<int>(gw.connect_timeout.count() / 1000));
  s->add_option("--mysql-addr", gw.listen,
                "Address of the MySQL gateway applications connect to (port 0 picks a free port; use 0.0.0.0:3306 "
                "to accept other machines)")
      ->capture_default_str();
  s->add_option("--mysql-threads", gw.threads, "I/O threads of the MySQL gateway (0: one per core)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--tls-hostname", gw.tls_hostnames,
                "Extra DNS name or IP address for the generated gateway certificate (repeatable; localhost and "
                "127.0.0.1 are always in it)");
  s->add_option("--tls-cert", gw.tls_cert, "Your own PEM certificate (chain) for the gateway, instead of the generated one");
  s->add_option("--tls-key", gw.tls_key, "The PEM private key of --tls-cert");
  s->add_flag("--require-tls", gw.require_tls, "Refuse gateway clients that do not use TLS");
  s->add_option("--max-client-connections", gw.max_client_connections, "Client connections the gateway accepts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  s->add_option("--max-backend-connections", gw.max_backend_connections_per_branch,
                "MariaDB connections the gateway opens per branch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  s->add_option("--idle-timeout", *idle_timeout, "Seconds a gateway client may stay idle before it is disconnected")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  s->add_option("--connect-timeout", *connect_timeout, "Seconds a gateway client has to log in")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  s->callback([&action, opts, data_dir, level, idle_timeout, connect_timeout] {
    opts->gateway.idle_timeout = std::chrono::seconds(*idle_timeout);
    opts->gateway.connect_timeout = std::chrono::seconds(*connect_timeout);
    action = [opts, data_dir, level] {
      if (!log::Init(*level)) {
        std::fprintf(stderr, "Error: unknown --log-level \"%s\" (use trace, debug, info, warn, error or off)\n",
                     level->c_str());
        return static_cast<int>(kExitUsage);
      }
      for (auto [flag, bytes] : {std::pair{"--production-buffer-pool", opts->sizing.production_buffer_pool},
                                 std::pair{"--development-buffer-pool", opts->sizing.development_buffer_pool}}) {
        if (bytes < fleet::kMinBufferPool) {
          std::fprintf(stderr, "Error: %s must be at least %lluM (got %llu bytes)\n", flag,
                       static_cast<unsigned long long>(fleet::kMinBufferPool >> 20),
                       static_cast<unsigned long long>(bytes));
          return static_cast<int>(kExitUsage);
        }
      }
      opts->data_dir = data_dir->empty() ? DefaultDataDir() : std::filesystem::path(*data_dir);
      opts->data_dir = std::filesystem::absolute(opts->data_dir);
      return api::RunDaemon(*opts);
    };
  });
}

void AddAuth(CLI::App& app, Commands& cmd, Globals& g, std::function<int()>& action) {
  auto* auth = app.add_subcommand("auth", "Log in to a Scion server, check or forget credentials");
  auth->require_subcommand(1);
  auto* login = auth->add_subcommand("login", "Save a server URL and service token (ID:TOKEN)");
  login->callback([&] {
    action = [&] {
      if (g.token.empty()) {
        return Fail(Error{ErrorCode::kInvalidArgument, "missing --token",
                          "pass --token ID:TOKEN; the admin token is in <data-dir>/admin-token"});
      }
      std::string server = g.server.empty() ? std::string(kDefaultServer) : g.server;
      api::Client client({.server = server, .token = g.token});
      auto who = client.Get("/v1/user");
      if (!who) return Fail(who.error());
      if (auto saved = SaveCredentials(server, g.token); !saved) return Fail(saved.error());
      auto f = ParseFormat(g.format);
      if (!f) return Fail(f.error());
      cmd.set_format(*f);
      (*who)["server"] = server;
      (*who)["credentials_file"] = CredentialsPath().string();
      return cmd.Message(fmt::format("Logged in to {} as token {} ({}). Credentials saved in {}", server,
                                     who->value("id", ""), who->value("name", ""), CredentialsPath().string()),
                         *who);
    };
  });
  auto* logout = auth->add_subcommand("logout", "Forget the saved credentials");
  logout->callback([&] {
    action = [&] {
      auto removed = RemoveCredentials();
      if (!removed) return Fail(removed.error());
      auto f = ParseFormat(g.format);
      if (!f) return Fail(f.error());
      cmd.set_format(*f);
      return cmd.Message(*removed ? "Logged out." : "Not logged in.",
                         {{"result", *removed ? "logged_out" : "not_logged_in"}});
    };
  });
  auto* check = auth->add_subcommand("check", "Check that the credentials are accepted by the server");
  check->callback([&] {
    action = [&] {
      CLIENT_OR_FAIL(client);
      auto who = client.Get("/v1/user");
      if (!who) return Fail(who.error());
      (*who)["server"] = client.options().server;
      (*who)["source"] = cmd.source();
      return cmd.Message(fmt::format("Authenticated to {} with token {} ({}), from {}", client.options().server,
                                     who->value("id", ""), who->value("name", ""), cmd.source()),
                         *who);
    };
  });
}

void AddDatabase(CLI::App& app, Commands& cmd, std::function<int()>& action) {
  auto* db = app.add_subcommand("database", "Create, list, show and delete databases");
  db->alias("db");
  db->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto wait = std::make_shared<bool>(false);
  auto force = std::make_shared<bool>(false);
  auto timeout = std::make_shared<int>(300);

  auto* create = db->add_subcommand("create", "Create a database with its production branch `main`");
  create->add_option("database", *name, "Database name")->required();
  create->add_flag("--wait", *wait, "Wait until the main branch is ready");
  create->add_option("--timeout", *timeout, "Seconds to wait with --wait")->capture_default_str();
  create->callback([&, name, wait, timeout] {
    action = [&, name, wait, timeout] {
      CLIENT_OR_FAIL(client);
      auto r = client.Post(cmd.Org() + "/databases", {{"name", *name}});
      if (!r) return Fail(r.error());
      if (*wait) return cmd.Wait(client, cmd.Db(*name), "database " + *name, *timeout, kDatabaseColumns);
      return cmd.Print(*r, kDatabaseColumns);
    };
  });

  auto* list = db->add_subcommand("list", "List databases");
  list->callback([&] {
    action = [&] {
      CLIENT_OR_FAIL(client);
      json all = json::array();
      for (int page = 1;; ++page) {
        auto r = client.Get(cmd.Org() + fmt::format("/databases?page={}&per_page=100", page));
        if (!r) return Fail(r.error());
        for (auto& d : (*r)["data"]) all.push_back(d);
        if ((*r)["next_page"].is_null()) break;
      }
      return cmd.Print(all, kDatabaseColumns);
    };
  });

  auto* show = db->add_subcommand("show", "Show a database");
  show->add_option("database", *name, "Database name")->required();
  show->callback([&, name] {
    action = [&, name] {
      CLIENT_OR_FAIL(client);
      auto r = client.Get(cmd.Db(*name));
      if (!r) return Fail(r.error());
      return cmd.Print(*r, kDatabaseColumns);
    };
  });

  auto* update = db->add_subcommand("update", "Change a database's settings");
  auto require_approval = std::make_shared<std::string>();
  update->add_option("database", *name, "Database name")->required();
  update->add_option("--require-approval-for-deploy", *require_approval,
                     "true: deploy requests need an approving review (not by their author) before deploy")
      ->check(CLI::IsMember({"true", "false"}));
  update->callback([&, name, require_approval] {
    action = [&, name, require_approval] {
      CLIENT_OR_FAIL(client);
      json body = json::object();
      if (!require_approval->empty()) body["require_approval_for_deploy"] = *require_approval == "true";
      auto r = client.Call("PATCH", cmd.Db(*name), body);
      if (!r) return Fail(r.error());
      return cmd.Print(*r, kDatabaseColumns);
    };
  });

  auto* del = db->add_subcommand("delete", "Delete a database, its branches and their data");
  del->add_option("database", *name, "Database name")->required();
  del->add_flag("--force", *force, "Also delete the database when it has development branches");
  del->callback([&, name, force] {
    action = [&, name, force] {
      CLIENT_OR_FAIL(client);
      auto r = client.Delete(cmd.Db(*name) + (*force ? "?force=true" : ""));
      if (!r) return Fail(r.error());
      return cmd.Message(fmt::format("Database {} was deleted.", *name), {{"result", "deleted"}, {"name", *name}});
    };
  });
}

void AddBranch(CLI::App& app, Commands& cmd, std::function<int()>& action) {
  auto* br = app.add_subcommand("branch", "Create, list, show, delete, promote and demote branches");
  br->require_subcommand(1);
  auto db = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto from = std::make_shared<std::string>();
  auto wait = std::make_shared<bool>(false);
  auto timeout = std::make_shared<int>(300);

  auto* create = br->add_subcommand("create", "Create a development branch with its parent's schema (no rows)");
  create->add_option("database", *db, "Database name")->required();
  create->add_option("branch", *name, "New branch name")->required();
  create->add_option("--from", *from, "Parent branch (default: the database's default branch)");
  create->add_flag("--wait", *wait, "Wait until the branch is ready");
  create->add_option("--timeout", *timeout, "Seconds to wait with --wait")->capture_default_str();
  create->callback([&, db, name, from, wait, timeout] {
    action = [&, db, name, from, wait, timeout] {
      CLIENT_OR_FAIL(client);
      json body = {{"name", *name}};
      if (!from->empty()) body["parent_branch"] = *from;
      auto r = client.Post(cmd.Db(*db) + "/branches", body);
      if (!r) return Fail(r.error());
      if (*wait) return cmd.Wait(client, cmd.BranchPath(*db, *name), "branch " + *db + "/" + *name, *timeout,
                                 kBranchColumns);
      return cmd.Print(*r, kBranchColumns);
    };
  });

  auto* list = br->add_subcommand("list", "List the branches of a database");
  list->add_option("database", *db, "Database name")->required();
  list->callback([&, db] {
    action = [&, db] {
      CLIENT_OR_FAIL(client);
      json all = json::array();
      for (int page = 1;; ++page) {
        auto r = client.Get(cmd.Db(*db) + fmt::format("/branches?page={}&per_page=100", page));
        if (!r) return Fail(r.error());
        for (auto& b : (*r)["data"]) all.push_back(b);
        if ((*r)["next_page"].is_null()) break;
      }
      return cmd.Print(all, kBranchColumns);
    };
  });

  auto simple = [&](const char* verb, const char* help, std::function<Result<json>(api::Client&)> call,
                    std::function<std::string()> done) {
    auto* sub = br->add_subcommand(verb, help);
    sub->add_option("database", *db, "Database name")->required();
    sub->add_option("branch", *name, "Branch name")->required();
    sub->callback([&action, &cmd, db, name, call, done] {
      action = [&cmd, db, name, call, done] {
        CLIENT_OR_FAIL(client);
        auto r = call(client);
        if (!r) return Fail(r.error());
        if (r->is_null()) return cmd.Message(done(), {{"result", "ok"}, {"database", *db}, {"branch", *name}});
        return cmd.Print(*r, kBranchColumns);
      };
    });
    return sub;
  };
  simple("show", "Show a branch", [&, db, name](api::Client& c) { return c.Get(cmd.BranchPath(*db, *name)); },
         [] { return std::string(); });
  simple("delete", "Delete a development branch and its instance",
         [&, db, name](api::Client& c) { return c.Delete(cmd.BranchPath(*db, *name)); },
         [db, name] { return fmt::format("Branch {}/{} was deleted.", *db, *name); });
  simple("promote", "Make a branch a production branch (durable settings; allows safe migrations)",
         [&, db, name](api::Client& c) { return c.Post(cmd.BranchPath(*db, *name) + "/promote"); },
         [] { return std::string(); });
  simple("demote", "Make a production branch a development branch",
         [&, db, name](api::Client& c) { return c.Post(cmd.BranchPath(*db, *name) + "/demote"); },
         [] { return std::string(); });

  auto* schema = br->add_subcommand("schema", "Print a branch's tables and views as CREATE statements");
  schema->add_option("database", *db, "Database name")->required();
  schema->add_option("branch", *name, "Branch name")->required();
  schema->callback([&, db, name] {
    action = [&, db, name] {
      CLIENT_OR_FAIL(client);
      auto r = client.Get(cmd.BranchPath(*db, *name) + "/schema");
      if (!r) return Fail(r.error());
      if (cmd.format() != Format::kHuman) return cmd.Print((*r)["data"], {{"NAME", "name"}, {"KIND", "kind"}, {"RAW", "raw"}});
      for (const auto& o : (*r)["data"]) std::printf("-- %s\n%s;\n\n", o.value("name", "").c_str(), o.value("raw", "").c_str());
      return static_cast<int>(kExitOk);
    };
  });

  auto* diff = br->add_subcommand("diff", "Show how a branch's schema differs from its parent's, and the DDL");
  diff->add_option("database", *db, "Database name")->required();
  diff->add_option("branch", *name, "Branch name")->required();
  diff->callback([&action, &cmd, db, name] {
    action = [&cmd, db, name] {
      CLIENT_OR_FAIL(client);
      auto r = client.Get(cmd.BranchPath(*db, *name) + "/diff");
      if (!r) return Fail(r.error());
      if (cmd.format() != Format::kHuman) {
        return cmd.Print((*r)["data"], {{"NAME", "name"}, {"KIND", "kind"}, {"DDL", "ddl"}});
      }
      if ((*r)["data"].empty()) {
        std::printf("No changes: %s/%s has its parent's schema.\n", db->c_str(), name->c_str());
        return static_cast<int>(kExitOk);
      }
      bool color = ::isatty(STDOUT_FILENO);
      for (const auto& t : (*r)["data"]) {
        auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() + "\n" : std::string(); };
        std::printf("-- %s (%s)\n%s\n", t.value("name", "").c_str(), t.value("kind", "").c_str(),
                    LineDiff(text(t["parent_raw"]), text(t["raw"]), color).c_str());
      }
      std::printf("-- DDL to apply:\n");
      for (const auto& t : (*r)["data"]) std::printf("%s;\n", t.value("ddl", "").c_str());
      if (r->value("verified", false)) {
        std::printf("-- verified: applied to a scratch copy of the parent's schema, it gives the branch's\n");
      } else {
        std::printf("-- NOT verified: %s\n", r->value("verification_error", std::string("unknown")).c_str());
      }
      for (const auto& f : (*r)["lint"]) {
        std::printf("-- %s %s: %s\n", f.value("severity", "").c_str(), f.value("code", "").c_str(),
                    f.value("message", "").c_str());
      }
      return static_cast<int>(kExitOk);
    };
  });

  auto* lint = br->add_subcommand("lint", "Check a branch's schema changes; exits 1 when there are errors");
  lint->add_option("database", *db, "Database name")->required();
  lint->add_option("branch", *name, "Branch name")->required();
  lint->callback([&action, &cmd, db, name] {
    action = [&cmd, db, name] {
      CLIENT_OR_FAIL(client);
      auto r = client.Get(cmd.BranchPath(*db, *name) + "/schema/lint");
      if (!r) return Fail(r.error());
      bool errors = false;
      for (const auto& f : (*r)["data"]) errors |= f.value("severity", "") == "error";
      if (cmd.format() != Format::kHuman) {
        cmd.Print((*r)["data"], {{"SEVERITY", "severity"}, {"CODE", "code"}, {"TABLE", "table"},
                                 {"COLUMN", "column"}, {"MESSAGE", "message"}});
      } else if ((*r)["data"].empty()) {
        std::printf("No schema errors detected.\n");
      } else {
        std::printf("Detected schema findings:\n");
        for (const auto& f : (*r)["data"]) {
          std::printf("  %s %s: %s\n", f.value("severity", "").c_str(), f.value("code", "").c_str(),
                      f.value("message", "").c_str());
        }
      }
      return errors ? static_cast<int>(kExitError) : static_cast<int>(kExitOk);
    };
  });

  auto* safe = br->add_subcommand("safe-migrations", "Enable or disable safe migrations on a production branch");
  safe->require_subcommand(1);
  for (bool enable : {true, false}) {
    auto* sub = safe->add_subcommand(enable ? "enable" : "disable",
                                     enable ? "Refuse direct DDL; schema changes go through deploy requests"
                                            : "Allow direct DDL again");
    sub->add_option("database", *db, "Database name")->required();
    sub->add_option("branch", *name, "Branch name")->required();
    sub->callback([&, db, name, enable] {
      action = [&, db, name, enable] {
        CLIENT_OR_FAIL(client);
        std::string path = cmd.BranchPath(*db, *name) + "/safe-migrations";
        auto r = enable ? client.Post(path) : client.Delete(path);
        if (!r) return Fail(r.error());
        return cmd.Print(*r, kBranchColumns);
      };
    });
  }
}

void AddBinlog(CLI::App& app, Commands& cmd, std::function<int()>& action) {
  auto* bl = app.add_subcommand("binlog", "Read a branch's committed changes from its binary log");
  bl->require_subcommand(1);
  auto db = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto from = std::make_shared<std::string>();
  auto tables = std::make_shared<std::string>();
  auto limit = std::make_shared<long>(0);
  auto* tail = bl->add_subcommand(
      "tail", "Print each row change (and DDL) as a JSON line: gtid, timestamp, table, op, before, after");
  tail->add_option("database", *db, "Database name")->required();
  tail->add_option("branch", *name, "Branch name")->required();
  tail->add_option("--from-gtid", *from,
                   "Start after this GTID position (e.g. 0-101-57; \"\" for the start of the binlog). "
                   "Default: only new changes");
  tail->add_option("--tables", *tables, "Only these tables, comma-separated");
  tail->add_option("--limit", *limit, "Stop after this many lines (0: follow until interrupted)");
  tail->callback([&action, &cmd, db, name, from, tables, limit, tail] {
    bool has_from = tail->count("--from-gtid") > 0;
    action = [&cmd, db, name, from, tables, limit, has_from] {
      CLIENT_OR_FAIL(client);
      std::string path = cmd.BranchPath(*db, *name) + "/binlog?";
      if (has_from) path += "from_gtid=" + UrlEncode(*from) + "&";
      if (!tables->empty()) path += "tables=" + UrlEncode(*tables);
      long printed = 0;
      int rc = kExitOk;
      auto st = client.Stream(path, [&](std::string_view line) {
        if (line.empty()) return true;
        if (line.starts_with("{\"error\"")) {
          json e = json::parse(line, nullptr, false);
          if (e.is_object() && e["error"].is_object()) {
            rc = Fail(Error{api::ErrorCodeFromName(e["error"].value("code", "internal")),
                            e["error"].value("message", ""), e["error"].value("hint", "")});
            return false;
          }
        }
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
        return *limit == 0 || ++printed < *limit;
      });
      if (!st) return Fail(st.error());
      return rc;
    };
  });
}

const std::vector<Column> kDeployRequestColumns = {{"NUMBER", "number"},
                                                   {"BRANCH", "branch"},
                                                   {"INTO", "into_branch"},
                                                   {"STATE", "state"},
                                                   {"DEPLOYMENT STATE", "deployment_state"},
                                                   {"DEPLOYABLE", "deployable"},
                                                   {"APPROVED", "approved"},
                                                   {"CREATED AT", "created_at"}};
const std::vector<Column> kOperationColumns = {{"TABLE", "table"},           {"OPERATION", "operation"},
                                               {"STRATEGY", "strategy"},     {"STATE", "state"},
                                               {"PROGRESS %", "progress_percentage"}, {"ETA S", "eta_seconds"}};

bool DeployFinished(const std::string& s) {
  return s == "complete" || s == "complete_pending_revert" || s == "pending_cutover" || s == "complete_error" ||
         s == "error" || s == "complete_cancel" || s == "cancelled" || s == "no_changes" || s == "complete_revert" ||
         s == "ready";
}

void PrintDeployRequest(const json& dr) {
  std::printf("Deploy request #%d: %s -> %s\n", dr.value("number", 0), dr.value("branch", "").c_str(),
              dr.value("into_branch", "").c_str());
  std::printf("  state: %s, deployment: %s, deployable: %s, approved: %s\n", dr.value("state", "").c_str(),
              dr.value("deployment_state", "").c_str(), dr.value("deployable", false) ? "yes" : "no",
              dr.value("approved", false) ? "yes" : "no");
  if (!dr.value("notes", "").empty()) std::printf("  notes: %s\n", dr.value("notes", "").c_str());
  if (dr.contains("operations") && !dr["operations"].empty()) {
    std::printf("\n%s", Render(dr["operations"], kOperationColumns, Format::kHuman).c_str());
  }
  for (const char* key : {"lint_errors", "lint_warnings"}) {
    if (!dr.contains(key)) continue;
    for (const auto& f : dr[key]) {
      std::printf("  %s %s: %s\n", std::string(key) == "lint_errors" ? "error" : "warning",
                  f.value("code", "").c_str(), f.value("message", "").c_str());
    }
  }
  if (dr.contains("conflicts")) {
    for (const auto& c : dr["conflicts"]) std::printf("  conflict: %s\n", c.get<std::string>().c_str());
  }
  std::string s = dr.value("deployment_state", "");
  if (s == "complete_pending_revert") {
    std::printf("\nThe revert window is open until %s and holds the deploy queue of %s.\n"
                "  revert: scion deploy-request revert %s %d   end it now: scion deploy-request skip-revert %s %d\n",
                dr.value("revert_window_ends_at", "").c_str(), dr.value("into_branch", "").c_str(),
                dr.value("database", "").c_str(), dr.value("number", 0), dr.value("database", "").c_str(),
                dr.value("number", 0));
  } else if (s == "pending_cutover") {
    std::printf("\nCopied and kept in sync; waiting for: scion deploy-request apply %s %d (holds the deploy queue)\n",
                dr.value("database", "").c_str(), dr.value("number", 0));
  }
  if (!dr.value("error", "").empty()) std::printf("  error: %s\n", dr.value("error", "").c_str());
}

void AddDeployRequest(CLI::App& app, Commands& cmd, std::function<int()>& action) {
  auto* dr = app.add_subcommand("deploy-request", "Open, review, deploy and revert schema changes of a branch");
  dr->alias("dr");
  dr->require_subcommand(1);
  auto db = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto number = std::make_shared<std::string>();
  auto into = std::make_shared<std::string>();
  auto notes = std::make_shared<std::string>();
  auto comment = std::make_shared<std::string>();
  auto no_auto_apply = std::make_shared<bool>(false);
  auto wait = std::make_shared<bool>(false);
  auto instant = std::make_shared<bool>(false);
  auto approve = std::make_shared<bool>(false);
  auto timeout = std::make_shared<int>(3600);

  auto path = [&cmd](const std::string& d) { return cmd.Db(d) + "/deploy-requests"; };
  // A number, or a branch name: its most recent open request.
  auto resolve = [&cmd, path](api::Client& client, const std::string& d, const std::string& n) -> Result<int> {
    if (!n.empty() && std::all_of(n.begin(), n.end(), ::isdigit)) return std::stoi(n);
    SCION_ASSIGN_OR_RETURN(auto all, client.Get(path(d)));
    for (const auto& x : all["data"]) {
      if (x.value("branch", "") == n && x.value("state", "") == "open") return x.value("number", 0);
    }
    return MakeError(ErrorCode::kNotFound, fmt::format("no open deploy request for branch \"{}\"", n),
                     fmt::format("run: scion deploy-request list {}", d));
  };
  auto show_or_json = [&cmd](const json& r) {
    if (cmd.format() != Format::kHuman) return cmd.Print(r, kDeployRequestColumns);
    PrintDeployRequest(r);
    return static_cast<int>(kExitOk);
  };

  auto* create = dr->add_subcommand("create", "Open a deploy request of a branch's schema changes");
  create->add_option("database", *db, "Database name")->required();
  create->add_option("branch", *name, "Branch with the changes")->required();
  create->add_option("--into", *into, "Target branch (default: the branch's parent)");
  create->add_option("--notes", *notes, "Notes for reviewers");
  create->add_flag("--disable-auto-apply", *no_auto_apply,
                   "Stop before the cut-over (pending_cutover) until: scion deploy-request apply");
  create->callback([&action, &cmd, db, name, into, notes, no_auto_apply, path, show_or_json] {
    action = [&cmd, db, name, into, notes, no_auto_apply, path, show_or_json] {
      CLIENT_OR_FAIL(client);
      json body = {{"branch", *name}, {"notes", *notes}, {"auto_apply", !*no_auto_apply}};
      if (!into->empty()) body["into_branch"] = *into;
      auto r = client.Post(path(*db), body);
      if (!r) return Fail(r.error());
      return show_or_json(*r);
    };
  });

  auto* list = dr->add_subcommand("list", "List a database's deploy requests");
  list->add_option("database", *db, "Database name")->required();
  list->callback([&action, &cmd, db, path] {
    action = [&cmd, db, path] {
      CLIENT_OR_FAIL(client);
      auto r = client.Get(path(*db));
      if (!r) return Fail(r.error());
      return cmd.Print((*r)["data"], kDeployRequestColumns);
    };
  });

  auto* show = dr->add_subcommand("show", "Show a deploy request: state, plan per table, lint, conflicts");
  show->add_option("database", *db, "Database name")->required();
  show->add_option("number", *number, "Deploy request number, or a branch name")->required();
  show->callback([&action, &cmd, db, number, path, resolve, show_or_json] {
    action = [&cmd, db, number, path, resolve, show_or_json] {
      CLIENT_OR_FAIL(client);
      auto n = resolve(client, *db, *number);
      if (!n) return Fail(n.error());
      auto r = client.Get(path(*db) + "/" + std::to_string(*n));
      if (!r) return Fail(r.error());
      return show_or_json(*r);
    };
  });

  auto* diff = dr->add_subcommand("diff", "Print the DDL a deploy request will run, per table, with its plan");
  diff->add_option("database", *db, "Database name")->required();
  diff->add_option("number", *number, "Deploy request number, or a branch name")->required();
  diff->callback([&action, &cmd, db, number, path, resolve] {
    action = [&cmd, db, number, path, resolve] {
      CLIENT_OR_FAIL(client);
      auto n = resolve(client, *db, *number);
      if (!n) return Fail(n.error());
      auto r = client.Get(path(*db) + "/" + std::to_string(*n) + "/diff");
      if (!r) return Fail(r.error());
      if (cmd.format() != Format::kHuman) return cmd.Print((*r)["data"], kOperationColumns);
      for (const auto& op : (*r)["data"]) {
        std::printf("-- %s %s (%s%s%s)\n%s;\n\n", op.value("operation", "").c_str(), op.value("table", "").c_str(),
                    op.value("strategy", "").c_str(), op.value("reason", "").empty() ? "" : ": ",
                    op.value("reason", "").c_str(), op.value("ddl_statement", "").c_str());
      }
      for (const auto& c : (*r)["conflicts"]) std::printf("conflict: %s\n", c.get<std::string>().c_str());
      if ((*r)["data"].empty() && (*r)["conflicts"].empty()) std::printf("No changes.\n");
      return static_cast<int>(kExitOk);
    };
  });

  struct Verb {
    const char* name;
    const char* api;
    const char* help;
  };
  for (const Verb& v : {Verb{"deploy", "deploy", "Queue a ready deploy request (online, with a revert window)"},
                        Verb{"apply", "apply-deploy", "Cut over a gated deploy that waits in pending_cutover"},
                        Verb{"cancel", "cancel", "Cancel a deploy before its cut-over; the target stays as it was"},
                        Verb{"revert", "revert", "Swap the previous tables back, keeping the writes made since"},
                        Verb{"skip-revert", "skip-revert", "End the revert window now and drop the previous tables"},
                        Verb{"close", "close", "Close a deploy request without deploying it"}}) {
    auto* sub = dr->add_subcommand(v.name, v.help);
    sub->add_option("database", *db, "Database name")->required();
    sub->add_option("number", *number, "Deploy request number, or a branch name")->required();
    bool is_deploy = std::string(v.name) == "deploy";
    if (is_deploy) {
      sub->add_flag("--wait", *wait, "Wait until the deploy finishes, showing progress");
      sub->add_flag("--instant", *instant, "Apply every change as a metadata-only ALTER (no revert window)");
      sub->add_option("--timeout", *timeout, "Seconds --wait waits")->capture_default_str();
    }
    std::string api_name = v.api;
    sub->callback([&action, &cmd, db, number, wait, instant, timeout, path, resolve, show_or_json, api_name] {
      action = [&cmd, db, number, wait, instant, timeout, path, resolve, show_or_json, api_name] {
        CLIENT_OR_FAIL(client);
        auto n = resolve(client, *db, *number);
        if (!n) return Fail(n.error());
        std::string base = path(*db) + "/" + std::to_string(*n);
        auto r = client.Post(base + "/" + api_name, {{"instant_ddl", *instant}});
        if (!r) return Fail(r.error());
        if (!*wait) return show_or_json(*r);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*timeout);
        std::string last;
        for (;;) {
          auto cur = client.Get(base);
          if (!cur) return Fail(cur.error());
          std::string s = cur->value("deployment_state", "");
          std::string line = s;
          for (const auto& op : (*cur)["operations"]) {
            line += fmt::format("  {} {}%", op.value("table", ""), op.value("progress_percentage", 0));
          }
          if (line != last) {
            std::fprintf(stderr, "%s\n", line.c_str());
            last = line;
          }
          if (s != "queued" && s != "submitting" && DeployFinished(s)) {
            show_or_json(*cur);
            return (s == "complete_error" || s == "error") ? static_cast<int>(kExitError) : static_cast<int>(kExitOk);
          }
          if (std::chrono::steady_clock::now() > deadline) {
            Fail(Error{ErrorCode::kUnavailable, "timed out waiting for the deploy",
                       "it goes on; check: scion deploy-request show"});
            return static_cast<int>(kExitTimeout);
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
      };
    });
  }

  auto* review = dr->add_subcommand("review", "Approve or comment on a deploy request");
  review->add_option("database", *db, "Database name")->required();
  review->add_option("number", *number, "Deploy request number, or a branch name")->required();
  review->add_flag("--approve", *approve, "Approve it (authors cannot approve their own requests)");
  review->add_option("--comment", *comment, "A comment");
  review->callback([&action, &cmd, db, number, approve, comment, path, resolve, show_or_json] {
    action = [&cmd, db, number, approve, comment, path, resolve, show_or_json] {
      CLIENT_OR_FAIL(client);
      if (!*approve && comment->empty()) {
        return Fail(Error{ErrorCode::kInvalidArgument, "nothing to review", "pass --approve or --comment TEXT"});
      }
      auto n = resolve(client, *db, *number);
      if (!n) return Fail(n.error());
      auto r = client.Post(path(*db) + "/" + std::to_string(*n) + "/reviews",
                           {{"state", *approve ? "approved" : "commented"}, {"body", *comment}});
      if (!r) return Fail(r.error());
      return show_or_json(*r);
    };
  });
}

void AddConnect(CLI::App& app, Commands& cmd, std::function<int()>& action) {
  for (bool shell : {false, true}) {
    auto* c = shell ? app.add_subcommand("shell", "Open the mariadb client on a branch, through the gateway")
                    : app.add_subcommand(
                          "connect",
                          "Open a local port that forwards to a branch over the gateway's TLS, with a short-lived "
                          "password (local clients log in with any user and no password)");
    auto req = std::make_shared<cli::ConnectRequest>();
    req->shell = shell;
    c->add_option("database", req->database, "Database name")->required();
    c->add_option("branch", req->branch, "Branch name")->required();
    c->add_option("--host", req->host, "Local address to listen on (loopback only)")->capture_default_str();
    c->add_option("--port", req->port, "Local port; when busy, a free one is picked and printed")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    c->add_option("--role", req->role, "Role of the connection's password: reader, writer, readwriter or admin")
        ->capture_default_str();
    if (!shell) {
      c->add_option("--execute", req->execute,
                    "Run this command with DATABASE_URL pointing at the local port, then exit with its status");
    } else {
      req->port = 0;  // a free port: the shell does not need a fixed one
    }
    c->callback([&action, &cmd, req] {
      action = [&cmd, req] {
        CLIENT_OR_FAIL(client);
        req->branch_path = cmd.BranchPath(req->database, req->branch);
        auto rc = cli::RunConnect(client, *req);
        if (!rc) return Fail(rc.error());
        return *rc;
      };
    });
  }
}

void AddPassword(CLI::App& app, Commands& cmd, std::function<int()>& action) {
  auto* pw = app.add_subcommand("password", "Create, list, renew and delete branch passwords for the MySQL gateway");
  pw->require_subcommand(1);
  auto db = std::make_shared<std::string>();
  auto branch = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("admin");
  auto ttl = std::make_shared<std::string>();

  auto* create = pw->add_subcommand(
      "create", "Create a password for a branch; its plain text is shown once, with connection strings");
  create->add_option("database", *db, "Database name")->required();
  create->add_option("branch", *branch, "Branch name")->required();
  create->add_option("name", *name, "A name for the password, e.g. the application using it")->required();
  create->add_option("--role", *role, "reader, writer, readwriter or admin")->capture_default_str();
  create->add_option("--ttl", *ttl, "Expire after this long: seconds (3600) or 30m, 24h, 7d (default: never)");
  create->callback([&action, &cmd, db, branch, name, role, ttl] {
    action = [&cmd, db, branch, name, role, ttl] {
      json body = {{"name", *name}, {"role", *role}};
      if (!ttl->empty()) {
        auto seconds = ParseTtl(*ttl);
        if (!seconds) return Fail(seconds.error());
        body["ttl"] = *seconds;
      }
      CLIENT_OR_FAIL(client);
      auto r = client.Post(cmd.BranchPath(*db, *branch) + "/passwords", body);
      if (!r) return Fail(r.error());
      if (cmd.format() != Format::kHuman) return cmd.Print(*r, kPasswordColumns);
      std::fputs(CreatedPasswordText(*r).c_str(), stdout);
      return static_cast<int>(kExitOk);
    };
  });

  auto* list = pw->add_subcommand("list", "List the passwords of a database, or of one of its branches");
  list->add_option("database", *db, "Database name")->required();
  list->add_option("branch", *branch, "Branch name (default: every branch)");
  list->callback([&action, &cmd, db, branch] {
    action = [&cmd, db, branch] {
      CLIENT_OR_FAIL(client);
      std::string path = (branch->empty() ? cmd.Db(*db) : cmd.BranchPath(*db, *branch)) + "/passwords";
      json all = json::array();
      for (int page = 1;; ++page) {
        auto r = client.Get(path + fmt::format("?page={}&per_page=100", page));
        if (!r) return Fail(r.error());
        for (auto& p : (*r)["data"]) all.push_back(p);
        if ((*r)["next_page"].is_null()) break;
      }
      return cmd.Print(all, kPasswordColumns);
    };
  });

  auto* del = pw->add_subcommand("delete", "Delete a password; connections made with it are closed");
  del->add_option("database", *db, "Database name")->required();
  del->add_option("branch", *branch, "Branch name")->required();
  del->add_option("id", *id, "Password id (see: scion password list)")->required();
  del->callback([&action, &cmd, db, branch, id] {
    action = [&cmd, db, branch, id] {
      CLIENT_OR_FAIL(client);
      auto r = client.Delete(cmd.BranchPath(*db, *branch) + "/passwords/" + UrlEncode(*id));
      if (!r) return Fail(r.error());
      return cmd.Message(fmt::format("Password {} was deleted.", *id),
                         {{"result", "deleted"}, {"database", *db}, {"branch", *branch}, {"id", *id}});
    };
  });

  auto* renew = pw->add_subcommand("renew", "Push back the expiry of a password created with --ttl by its ttl");
  renew->add_option("database", *db, "Database name")->required();
  renew->add_option("branch", *branch, "Branch name")->required();
  renew->add_option("id", *id, "Password id (see: scion password list)")->required();
  renew->callback([&action, &cmd, db, branch, id] {
    action = [&cmd, db, branch, id] {
      CLIENT_OR_FAIL(client);
      auto r = client.Post(cmd.BranchPath(*db, *branch) + "/passwords/" + UrlEncode(*id) + "/renew");
      if (!r) return Fail(r.error());
      return cmd.Print(*r, kPasswordColumns);
    };
  });
}

void AddSchema(CLI::App& app, Commands& cmd, Globals& g, std::function<int()>& action) {
  auto* sc = app.add_subcommand("schema", "Work with schema files offline");
  sc->require_subcommand(1);
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto* diff = sc->add_subcommand(
      "diff", "Print the DDL that turns the schema in FROM.sql into the one in TO.sql (a scratch MariaDB "
              "instance is started for it; no server needed)");
  diff->add_option("from", *from, "SQL file with the current schema")->required()->check(CLI::ExistingFile);
  diff->add_option("to", *to, "SQL file with the wanted schema")->required()->check(CLI::ExistingFile);
  diff->callback([&action, &cmd, &g, from, to] {
    action = [&cmd, &g, from, to] {
      auto f = ParseFormat(g.format);
      if (!f) return Fail(f.error());
      cmd.set_format(*f);
      auto statements = OfflineDiff(*from, *to);
      if (!statements) return Fail(statements.error());
      if (*f != Format::kHuman) {
        json data = json::array();
        for (const auto& st : *statements) {
          data.push_back({{"name", st.object}, {"kind", schema::ChangeKindName(st.kind)}, {"ddl", st.sql},
                          {"drops_data", st.drops_data}, {"instant", st.instant}});
        }
        return cmd.Print(data, {{"NAME", "name"}, {"KIND", "kind"}, {"DDL", "ddl"}});
      }
      for (const auto& st : *statements) std::printf("%s;\n", st.sql.c_str());
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"Scion: a self-hosted MySQL platform with branches, deploy requests and online schema changes.\n"
               "Run `scion server` to start the platform, then use the other commands against it."};
  app.set_version_flag("--version", std::string("scion ") + api::Version());
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("--format", g.format, "Output format: human, json or csv")->capture_default_str();
  app.add_option("--server", g.server, "Server URL (default: saved by auth login, $SCION_SERVER, or " +
                                           std::string(kDefaultServer) + ")");
  app.add_option("--token", g.token, "Service token ID:TOKEN (default: saved by auth login or $SCION_TOKEN)");
  app.add_option("--org", g.org, "Organization")->capture_default_str();
  app.footer(
      "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict or already exists, 5 unauthorized,\n"
      "6 server unreachable, 7 timed out waiting. Docs: docs/cli.md");

  // Client commands log warnings only, on stderr (stdout is for results); `server` sets its level.
  log::Init("warn");
  std::function<int()> action;
  Commands cmd(g);
  AddServer(app, action);
  AddAuth(app, cmd, g, action);
  AddDatabase(app, cmd, action);
  AddBranch(app, cmd, action);
  AddBinlog(app, cmd, action);
  AddPassword(app, cmd, action);
  AddConnect(app, cmd, action);
  AddDeployRequest(app, cmd, action);
  AddSchema(app, cmd, g, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(kExitUsage);
  }
  if (!action) {
    std::fputs(app.help().c_str(), stderr);
    return kExitUsage;
  }
  try {
    return action();
  } catch (const std::exception& e) {
    // A malformed answer or file the code did not expect: report it instead of aborting.
    return Fail(Error{ErrorCode::kInternal, std::string("unexpected failure: ") + e.what(),
                      "please report this with the command you ran"});
  }
}

}  // namespace scion::cli

int main(int argc, char** argv) { return scion::cli::Main(argc, argv); }
