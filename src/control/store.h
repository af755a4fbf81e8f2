// The metadata store: SQLite (WAL) in the data folder, with its own schema migrations.
//
// Thread safety: every method is serialized by an internal mutex.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "control/model.h"

namespace scion::control {

namespace internal {
class Sqlite;
}

class Store {
 public:
  // Opens (creating if needed) the store at `path` and applies pending migrations.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The schema version after migrations (PRAGMA user_version).
  int schema_version() const { return schema_version_; }
  static int LatestSchemaVersion();

  Result<std::optional<std::string>> GetSetting(const std::string& key);
  Status PutSetting(const std::string& key, const std::string& value);

  Status InsertOrganization(const Organization& org);
  Result<Organization> FindOrganization(const std::string& name);

  Status InsertToken(const ServiceToken& token);
  Result<ServiceToken> FindToken(const std::string& id);

  // Inserts the database and its first branch atomically.
  Status InsertDatabase(const Database& db, const Branch& first_branch);
  Result<Database> FindDatabase(const std::string& org_id, const std::string& name);
  Result<std::vector<Database>> ListDatabases(const std::string& org_id, int limit, int offset);
  Result<int> CountDatabases(const std::string& org_id);
  // Deletes the database and all its branch and password records.
  Status DeleteDatabase(const std::string& id);

  Status InsertBranch(const Branch& branch);
  Result<Branch> FindBranch(const std::string& database_id, const std::string& name);
  Result<std::vector<Branch>> ListBranches(const std::string& database_id, int limit, int offset);
  Result<int> CountBranches(const std::string& database_id);
  Result<std::vector<Branch>> AllBranches();
  // The branch with this id, whatever its database. kNotFound when there is none.
  Result<Branch> FindBranchById(const std::string& id);
  // Updates state, error, production and safe_migrations of the branch with `branch.id`.
  // Callers doing read-modify-write serialize through ControlPlane's mutation lock.
  Status UpdateBranch(const Branch& branch);
  // Updates only state and error (what provisioning learns), leaving the flags alone.
  Status UpdateBranchState(const std::string& id, BranchState state, const std::string& error);
  Result<int> CountTokens();
  // Deletes the branch and its passwords.
  Status DeleteBranch(const std::string& id);
  // The parent's tables and views when the branch was cut (JSON), the base of its deploy requests.
  Status PutBaseSchema(const std::string& branch_id, const std::string& objects_json);
  Result<std::optional<std::string>> GetBaseSchema(const std::string& branch_id);

  // Deploy requests: numbered from 1 per database (the number is assigned on insert); the record
  // beyond its states is a JSON body owned by the control plane.
  Result<int> InsertDeployRequest(const StoredDeployRequest& dr);
  Status UpdateDeployRequest(const StoredDeployRequest& dr);
  Result<StoredDeployRequest> FindDeployRequest(const std::string& database_id, int number);
  Result<std::vector<StoredDeployRequest>> ListDeployRequests(const std::string& database_id);
  Result<std::vector<StoredDeployRequest>> AllDeployRequests();

  // A server_id never handed out before in this data folder.
  Result<std::uint32_t> NextServerId();

  // kAlreadyExists when the username (or id) is taken; callers draw new ones and retry.
  Status InsertPassword(const Password& password);
  // The password `id` of the branch `branch_id`. kNotFound when there is none.
  Result<Password> FindPassword(const std::string& branch_id, const std::string& id);
  Result<Password> FindPasswordByUsername(const std::string& username);
  // Passwords of a database, or of one branch when `branch_id` is set, oldest first.
  Result<std::vector<Password>> ListPasswords(const std::string& database_id, const std::optional<std::string>& branch_id,
                                              int limit, int offset);
  Result<int> CountPasswords(const std::string& database_id, const std::optional<std::string>& branch_id);
  Status UpdatePasswordExpiry(const std::string& id, std::int64_t expires_at);
  // kNotFound when there was no such password.
  Status DeletePassword(const std::string& id);

 private:
  explicit Store(std::unique_ptr<internal::Sqlite> db);
  Status Migrate();

  std::mutex mu_;
  std::unique_ptr<internal::Sqlite> db_;  // guarded by mu_
  int schema_version_ = 0;
};

}  // namespace scion::control
