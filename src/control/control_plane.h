// The control plane: organizations, databases, branches and service tokens, backed by the
// metadata store and the fleet. Long work (provisioning a branch's instance and copying its
// parent's schema) runs on worker threads; callers get the record back at once in `pending`.
//
// Thread safety: all public methods may be called concurrently (the HTTP server does).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "binlog/stream.h"
#include "control/model.h"
#include "fleet/fleet.h"
#include "gateway/directory.h"
#include "schema/copy.h"
#include "schema/diff.h"
#include "schema/lint.h"
#include "schema/model.h"

namespace scion::control {

struct ControlOptions {
  std::filesystem::path data_dir;
  std::string mariadbd = "mariadbd";
  std::string install_db = "mariadb-install-db";
  int workers = 2;
  fleet::InstanceSizing sizing;
};

template <typename T>
struct Page {
  std::vector<T> items;
  int page = 1;
  int per_page = 25;
  int total = 0;
};

// Page numbers start at 1; per_page is clamped to 1..100.
struct PageRequest {
  int page = 1;
  int per_page = 25;
};

class ControlPlane {
 public:
  // Opens the data folder (creating and initializing it on first start: organization `default`,
  // an admin service token, the MariaDB template), takes its lock, and starts every branch's
  // instance in the background. Fails with kConflict when another daemon holds the data folder.
  static Result<std::unique_ptr<ControlPlane>> Open(ControlOptions options);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // "ID:TOKEN" of the admin token when this start created it (shown once), else nullopt.
  const std::optional<std::string>& new_admin_token() const { return new_admin_token_; }

  // Finishes running jobs, then stops every instance. Idempotent.
  void Shutdown();

  // Checks an `Authorization` header value of the form "ID:TOKEN".
  Result<ServiceToken> Authenticate(std::string_view credentials);

  Result<Organization> GetOrganization(const std::string& org);

  Result<Database> CreateDatabase(const std::string& org, const std::string& name);
  Result<Page<Database>> ListDatabases(const std::string& org, PageRequest page);
  Result<Database> GetDatabase(const std::string& org, const std::string& name);
  // Refused with kConflict when the database has branches besides its default one, unless `force`.
  Status DeleteDatabase(const std::string& org, const std::string& name, bool force);
  // Branch count and readiness of the default branch, for display.
  Result<std::vector<Branch>> AllBranchesOf(const Database& db);

  Result<Branch> CreateBranch(const std::string& org, const std::string& db, const std::string& name,
                              const std::string& parent);
  Result<Page<Branch>> ListBranches(const std::string& org, const std::string& db, PageRequest page);
  Result<Branch> GetBranch(const std::string& org, const std::string& db, const std::string& name);
  // Refused for production branches (demote first) and the database's default branch.
  Status DeleteBranch(const std::string& org, const std::string& db, const std::string& name);
  Result<Branch> Promote(const std::string& org, const std::string& db, const std::string& name);
  Result<Branch> Demote(const std::string& org, const std::string& db, const std::string& name);
  Result<Branch> SetSafeMigrations(const std::string& org, const std::string& db, const std::string& name,
                                   bool enabled);
  Result<std::vector<schema::SchemaObject>> BranchSchema(const std::string& org, const std::string& db,
                                                         const std::string& name);

  // A change stream of the branch's database (its schema only) starting after `from_gtid`
  // (nullopt: from now), optionally limited to `tables`. Not started: the caller runs it.
  Result<std::unique_ptr<binlog::BinlogStream>> OpenBinlog(const std::string& org, const std::string& db,
                                                           const std::string& branch,
                                                           std::optional<std::string> from_gtid,
                                                           std::set<std::string> tables);

  // The branch's schema against its parent's: the statements that would turn the parent's into
  // the branch's, with both models. Fails for a branch without a parent.
  struct BranchDiffResult {
    schema::Schema parent;
    schema::Schema branch;
    std::vector<schema::Statement> statements;
    std::vector<schema::Finding> findings;
    // The statements were applied to a scratch copy of the parent's schema (on the branch's
    // instance) and gave the branch's schema.
    bool verified = false;
    std::string verification_error;
  };
  Result<BranchDiffResult> DiffBranch(const std::string& org, const std::string& db, const std::string& branch);

  fleet::InstanceStatus InstanceStatusOf(const Branch& branch) const;

  // A new password for a ready branch. `role` is reader, writer, readwriter or admin (empty:
  // admin); `ttl_seconds` 0 means it never expires, at most one year. `created_by` is the
  // calling token's id. Only verifiers are stored: `plain_text` exists in this answer only.
  struct CreatedPassword {
    Password password;
    std::string plain_text;
  };
  Result<CreatedPassword> CreatePassword(const std::string& org, const std::string& db, const std::string& branch,
                                         const std::string& name, const std::string& role, std::int64_t ttl_seconds,
                                         const std::string& created_by);
  // The passwords of a database, or of one of its branches; expired ones included.
  Result<Page<Password>> ListPasswords(const std::string& org, const std::string& db,
                                       const std::optional<std::string>& branch, PageRequest page);
  Result<Password> GetPassword(const std::string& org, const std::string& db, const std::string& branch,
                               const std::string& id);
  // Gateway sessions logged in with it end (the directory's generation changes).
  Status DeletePassword(const std::string& org, const std::string& db, const std::string& branch,
                        const std::string& id);
  // Sets expires_at to now + ttl. kFailedPrecondition for a password without a ttl.
  Result<Password> RenewPassword(const std::string& org, const std::string& db, const std::string& branch,
                                 const std::string& id);

  // What the gateway asks about logins and branches. Lives as long as the control plane.
  gateway::Directory& directory();

  // "host:port" where the gateway listens, for passwords' access_host_url; empty (the default)
  // while no gateway runs. Thread-safe.
  void SetGatewayAddress(std::string host_port);
  std::string GatewayAddress() const;
  // The PEM of the CA that signed the gateway's certificate (empty with the user's own
  // certificate), for `scion connect` to verify the gateway. Thread-safe.
  void SetGatewayCa(std::string pem);
  std::string GatewayCa() const;

  // Whether deploy requests into the database's branches need an approving review first.
  Result<bool> RequireApprovalForDeploy(const Database& db);
  Status SetRequireApprovalForDeploy(const std::string& org, const std::string& db, bool required);

  // Deploy requests (docs/api.md): JSON objects in PlanetScale's shape. `into` defaults to the
  // branch's parent. Numbers start at 1 per database.
  Result<nlohmann::json> CreateDeployRequest(const std::string& org, const std::string& db, const std::string& branch,
                                             const std::string& into, const std::string& notes, bool auto_apply,
                                             const std::string& created_by);
  Result<std::vector<nlohmann::json>> ListDeployRequests(const std::string& org, const std::string& db);
  Result<nlohmann::json> GetDeployRequest(const std::string& org, const std::string& db, int number);
  struct DeployActionOptions {
    bool instant = false;   // deploy
    std::string by;         // review: the reviewer's token id
    bool approve = false;   // review
    std::string comment;    // review
  };
  // action: deploy, apply-deploy, cancel, revert, skip-revert, close, review.
  Result<nlohmann::json> DeployRequestAction(const std::string& org, const std::string& db, int number,
                                             const std::string& action, const DeployActionOptions& options);

  class Impl;

 private:
  explicit ControlPlane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::optional<std::string> new_admin_token_;
};

}  // namespace scion::control
