#include "control/store.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "control/internal/sqlite.h"

namespace scion::control {
using internal::Statement;
using internal::Value;

std::string_view BranchStateName(BranchState state) {
  switch (state) {
    case BranchState::kPending: return "pending";
    case BranchState::kReady: return "ready";
    case BranchState::kError: return "error";
  }
  return "error";
}

BranchState ParseBranchState(std::string_view name) {
  if (name == "ready") return BranchState::kReady;
  if (name == "pending") return BranchState::kPending;
  return BranchState::kError;
}

namespace {

// Migrations, applied in order; the index + 1 is the schema version. Never edit a shipped entry:
// append a new one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE service_tokens (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations(id),
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE databases (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations(id),
  name TEXT NOT NULL,
  default_branch TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (org_id, name)
);
CREATE TABLE branches (
  id TEXT PRIMARY KEY,
  database_id TEXT NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  parent_branch TEXT NOT NULL,
  production INTEGER NOT NULL,
  safe_migrations INTEGER NOT NULL,
  state TEXT NOT NULL,
  error TEXT NOT NULL,
  server_id INTEGER NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (database_id, name)
);
CREATE TABLE sequences (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO sequences VALUES ('server_id', 100);
)sql",
    R"sql(
CREATE TABLE passwords (
  id TEXT PRIMARY KEY,
  database_id TEXT NOT NULL REFERENCES databases(id),
  branch_id TEXT NOT NULL REFERENCES branches(id),
  name TEXT NOT NULL,
  username TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  native_verifier TEXT NOT NULL,
  slow_hash TEXT NOT NULL,
  ttl_seconds INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX passwords_by_branch ON passwords (branch_id, created_at);
CREATE INDEX passwords_by_database ON passwords (database_id, created_at);
)sql",
    R"sql(
CREATE TABLE deploy_requests (
  id TEXT PRIMARY KEY,
  database_id TEXT NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  state TEXT NOT NULL,
  deployment_state TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (database_id, number)
);
CREATE TABLE branch_base_schemas (
  branch_id TEXT PRIMARY KEY,
  objects TEXT NOT NULL
);
)sql",
};

constexpr const char* kBranchColumns =
    "b.id, b.database_id, d.name, b.name, b.parent_branch, b.production, b.safe_migrations, b.state, b.error, "
    "b.server_id, b.created_at, b.updated_at";

Branch ReadBranch(const Statement& s) {
  Branch b;
  b.id = s.Text(0);
  b.database_id = s.Text(1);
  b.database_name = s.Text(2);
  b.name = s.Text(3);
  b.parent_branch = s.Text(4);
  b.production = s.Int(5) != 0;
  b.safe_migrations = s.Int(6) != 0;
  b.state = ParseBranchState(s.Text(7));
  b.error = s.Text(8);
  b.server_id = static_cast<std::uint32_t>(s.Int(9));
  b.created_at = s.Int(10);
  b.updated_at = s.Int(11);
  return b;
}

Database ReadDatabase(const Statement& s) {
  return Database{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5)};
}

constexpr const char* kDatabaseColumns = "id, org_id, name, default_branch, created_at, updated_at";

std::vector<Value> BranchValues(const Branch& b) {
  return {b.id,
          b.database_id,
          b.name,
          b.parent_branch,
          std::int64_t{b.production},
          std::int64_t{b.safe_migrations},
          std::string(BranchStateName(b.state)),
          b.error,
          std::int64_t{b.server_id},
          b.created_at,
          b.updated_at};
}

// Every remaining row of `s`, each turned into a record by `read`.
template <typename Read>
auto CollectAll(Statement& s, Read read) -> Result<std::vector<decltype(read(s))>> {
  std::vector<decltype(read(s))> out;
  while (true) {
    SCION_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back(read(s));
  }
}

constexpr const char* kPasswordColumns =
    "p.id, p.database_id, d.name, p.branch_id, b.name, p.name, p.username, p.role, p.native_verifier, p.slow_hash, "
    "p.ttl_seconds, p.created_at, p.expires_at, p.created_by";
constexpr const char* kPasswordJoins =
    "passwords p JOIN databases d ON d.id = p.database_id JOIN branches b ON b.id = p.branch_id";

Password ReadPassword(const Statement& s) {
  return Password{.id = s.Text(0),
                  .database_id = s.Text(1),
                  .database_name = s.Text(2),
                  .branch_id = s.Text(3),
                  .branch_name = s.Text(4),
                  .name = s.Text(5),
                  .username = s.Text(6),
                  .role = s.Text(7),
                  .native_verifier = s.Text(8),
                  .slow_hash = s.Text(9),
                  .ttl_seconds = s.Int(10),
                  .created_at = s.Int(11),
                  .expires_at = s.Int(12),
                  .created_by = s.Text(13)};
}

Error PasswordNotFound(const std::string& what) {
  return Error{ErrorCode::kNotFound, fmt::format("password {} not found", what)};
}

constexpr const char* kInsertBranch =
    "INSERT INTO branches (id, database_id, name, parent_branch, production, safe_migrations, state, error, "
    "server_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

}  // namespace

int Store::LatestSchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

Store::Store(std::unique_ptr<internal::Sqlite> db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  SCION_ASSIGN_OR_RETURN(auto db, internal::Sqlite::Open(path));
  auto store = std::unique_ptr<Store>(new Store(std::move(db)));
  SCION_TRY(store->Migrate());
  return store;
}

Status Store::Migrate() {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("PRAGMA user_version"));
  SCION_TRY(stmt.Step());
  int version = static_cast<int>(stmt.Int(0));
  if (version > LatestSchemaVersion()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("the metadata store is at schema version {}, newer than this scion ({})", version,
                                 LatestSchemaVersion()),
                     "upgrade scion or use another --data-dir");
  }
  for (int v = version; v < LatestSchemaVersion(); ++v) {
    internal::Transaction tx(*db_);
    SCION_TRY(tx.begun());
    SCION_TRY(db_->Exec(kMigrations[v]));
    SCION_TRY(db_->Exec(fmt::format("PRAGMA user_version = {}", v + 1)));
    SCION_TRY(tx.Commit());
  }
  schema_version_ = LatestSchemaVersion();
  return Ok();
}

Result<std::optional<std::string>> Store::GetSetting(const std::string& key) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT value FROM settings WHERE key = ?1", {key}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

Status Store::PutSetting(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  SCION_TRY(db_->Run("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                     {key, value}));
  return Ok();
}

Status Store::InsertOrganization(const Organization& org) {
  std::lock_guard lock(mu_);
  SCION_TRY(db_->Run("INSERT INTO organizations (id, name, created_at) VALUES (?1, ?2, ?3)",
                     {org.id, org.name, org.created_at}));
  return Ok();
}

Result<Organization> Store::FindOrganization(const std::string& name) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT id, name, created_at FROM organizations WHERE name = ?1", {name}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, fmt::format("organization \"{}\" not found", name),
                     "the built-in organization is \"default\"");
  }
  return Organization{s.Text(0), s.Text(1), s.Int(2)};
}

Status Store::InsertToken(const ServiceToken& t) {
  std::lock_guard lock(mu_);
  SCION_TRY(db_->Run("INSERT INTO service_tokens (id, org_id, name, token_hash, created_at) VALUES (?1,?2,?3,?4,?5)",
                     {t.id, t.org_id, t.name, t.token_hash, t.created_at}));
  return Ok();
}

Result<ServiceToken> Store::FindToken(const std::string& id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(
      auto s, db_->Prepare("SELECT id, org_id, name, token_hash, created_at FROM service_tokens WHERE id = ?1", {id}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return MakeError(ErrorCode::kNotFound, "service token not found");
  return ServiceToken{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)};
}

Status Store::InsertDatabase(const Database& db, const Branch& first_branch) {
  std::lock_guard lock(mu_);
  internal::Transaction tx(*db_);
  SCION_TRY(tx.begun());
  auto inserted = db_->Run(
      "INSERT INTO databases (id, org_id, name, default_branch, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6)",
      {db.id, db.org_id, db.name, db.default_branch, db.created_at, db.updated_at});
  if (!inserted) {
    if (inserted.error().code == ErrorCode::kAlreadyExists) {
      return MakeError(ErrorCode::kAlreadyExists, fmt::format("database \"{}\" already exists", db.name),
                       "run: scion database list");
    }
    return std::unexpected(inserted.error());
  }
  SCION_TRY(db_->Run(kInsertBranch, BranchValues(first_branch)));
  return tx.Commit();
}

Result<Database> Store::FindDatabase(const std::string& org_id, const std::string& name) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT {} FROM databases WHERE org_id = ?1 AND name = ?2",
                                                          kDatabaseColumns),
                                              {org_id, name}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, fmt::format("database \"{}\" not found", name), "run: scion database list");
  }
  return ReadDatabase(s);
}

Result<std::vector<Database>> Store::ListDatabases(const std::string& org_id, int limit, int offset) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(
      auto s, db_->Prepare(fmt::format("SELECT {} FROM databases WHERE org_id = ?1 ORDER BY name LIMIT ?2 OFFSET ?3",
                                       kDatabaseColumns),
                           {org_id, std::int64_t{limit}, std::int64_t{offset}}));
  return CollectAll(s, ReadDatabase);
}

Result<int> Store::CountDatabases(const std::string& org_id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COUNT(*) FROM databases WHERE org_id = ?1", {org_id}));
  SCION_TRY(s.Step());
  return static_cast<int>(s.Int(0));
}

Status Store::DeleteDatabase(const std::string& id) {
  std::lock_guard lock(mu_);
  internal::Transaction tx(*db_);
  SCION_TRY(tx.begun());
  SCION_TRY(db_->Run("DELETE FROM passwords WHERE database_id = ?1", {id}));
  SCION_TRY(db_->Run("DELETE FROM deploy_requests WHERE database_id = ?1", {id}));
  SCION_TRY(db_->Run(
      "DELETE FROM branch_base_schemas WHERE branch_id IN (SELECT id FROM branches WHERE database_id = ?1)", {id}));
  SCION_TRY(db_->Run("DELETE FROM branches WHERE database_id = ?1", {id}));
  SCION_TRY(db_->Run("DELETE FROM databases WHERE id = ?1", {id}));
  return tx.Commit();
}

Status Store::InsertBranch(const Branch& branch) {
  std::lock_guard lock(mu_);
  auto inserted = db_->Run(kInsertBranch, BranchValues(branch));
  if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists,
                     fmt::format("branch \"{}\" already exists in database \"{}\"", branch.name, branch.database_name),
                     fmt::format("run: scion branch list {}", branch.database_name));
  }
  SCION_TRY(inserted);
  return Ok();
}

Result<Branch> Store::FindBranch(const std::string& database_id, const std::string& name) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(
      auto s, db_->Prepare(fmt::format("SELECT {} FROM branches b JOIN databases d ON d.id = b.database_id "
                                       "WHERE b.database_id = ?1 AND b.name = ?2",
                                       kBranchColumns),
                           {database_id, name}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return MakeError(ErrorCode::kNotFound, fmt::format("branch \"{}\" not found", name));
  return ReadBranch(s);
}

Result<std::vector<Branch>> Store::ListBranches(const std::string& database_id, int limit, int offset) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(
      auto s, db_->Prepare(fmt::format("SELECT {} FROM branches b JOIN databases d ON d.id = b.database_id "
                                       "WHERE b.database_id = ?1 ORDER BY b.created_at, b.name LIMIT ?2 OFFSET ?3",
                                       kBranchColumns),
                           {database_id, std::int64_t{limit}, std::int64_t{offset}}));
  return CollectAll(s, ReadBranch);
}

Result<int> Store::CountBranches(const std::string& database_id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COUNT(*) FROM branches WHERE database_id = ?1", {database_id}));
  SCION_TRY(s.Step());
  return static_cast<int>(s.Int(0));
}

Result<std::vector<Branch>> Store::AllBranches() {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format(
                                     "SELECT {} FROM branches b JOIN databases d ON d.id = b.database_id "
                                     "ORDER BY b.created_at",
                                     kBranchColumns)));
  return CollectAll(s, ReadBranch);
}

Status Store::UpdateBranch(const Branch& b) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(int changed,
                         db_->Run("UPDATE branches SET state = ?2, error = ?3, production = ?4, safe_migrations = ?5, "
                                  "updated_at = ?6 WHERE id = ?1",
                                  {b.id, std::string(BranchStateName(b.state)), b.error, std::int64_t{b.production},
                                   std::int64_t{b.safe_migrations}, NowUnixMillis()}));
  if (changed == 0) return MakeError(ErrorCode::kNotFound, fmt::format("branch \"{}\" not found", b.name));
  return Ok();
}

Status Store::UpdateBranchState(const std::string& id, BranchState state, const std::string& error) {
  std::lock_guard lock(mu_);
  SCION_TRY(db_->Run("UPDATE branches SET state = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
                     {id, std::string(BranchStateName(state)), error, NowUnixMillis()}));
  return Ok();
}

Result<int> Store::CountTokens() {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COUNT(*) FROM service_tokens"));
  SCION_TRY(s.Step());
  return static_cast<int>(s.Int(0));
}

Result<Branch> Store::FindBranchById(const std::string& id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT {} FROM branches b JOIN databases d ON d.id = "
                                                          "b.database_id WHERE b.id = ?1",
                                                          kBranchColumns),
                                              {id}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return MakeError(ErrorCode::kNotFound, fmt::format("branch {} not found", id));
  return ReadBranch(s);
}

Status Store::DeleteBranch(const std::string& id) {
  std::lock_guard lock(mu_);
  internal::Transaction tx(*db_);
  SCION_TRY(tx.begun());
  SCION_TRY(db_->Run("DELETE FROM passwords WHERE branch_id = ?1", {id}));
  SCION_TRY(db_->Run("DELETE FROM branch_base_schemas WHERE branch_id = ?1", {id}));
  SCION_TRY(db_->Run("DELETE FROM branches WHERE id = ?1", {id}));
  return tx.Commit();
}

Result<std::uint32_t> Store::NextServerId() {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("UPDATE sequences SET value = value + 1 WHERE name = 'server_id' "
                                              "RETURNING value"));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return MakeError(ErrorCode::kInternal, "server_id sequence missing");
  auto value = static_cast<std::uint32_t>(s.Int(0));
  SCION_TRY(s.Step());
  return value;
}

Status Store::InsertPassword(const Password& p) {
  std::lock_guard lock(mu_);
  SCION_TRY(db_->Run("INSERT INTO passwords (id, database_id, branch_id, name, username, role, native_verifier, "
                     "slow_hash, ttl_seconds, created_at, expires_at, created_by) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                     {p.id, p.database_id, p.branch_id, p.name, p.username, p.role, p.native_verifier, p.slow_hash,
                      p.ttl_seconds, p.created_at, p.expires_at, p.created_by}));
  return Ok();
}

Result<Password> Store::FindPassword(const std::string& branch_id, const std::string& id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT {} FROM {} WHERE p.branch_id = ?1 AND p.id = ?2",
                                                          kPasswordColumns, kPasswordJoins),
                                              {branch_id, id}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::unexpected(PasswordNotFound(fmt::format("\"{}\"", id)));
  return ReadPassword(s);
}

Result<Password> Store::FindPasswordByUsername(const std::string& username) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT {} FROM {} WHERE p.username = ?1", kPasswordColumns,
                                                          kPasswordJoins),
                                              {username}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::unexpected(PasswordNotFound(fmt::format("for user \"{}\"", username)));
  return ReadPassword(s);
}

Result<std::vector<Password>> Store::ListPasswords(const std::string& database_id,
                                                   const std::optional<std::string>& branch_id, int limit,
                                                   int offset) {
  std::lock_guard lock(mu_);
  // ?2 IS NULL: the whole database.
  SCION_ASSIGN_OR_RETURN(
      auto s, db_->Prepare(fmt::format("SELECT {} FROM {} WHERE p.database_id = ?1 AND (?2 IS NULL OR p.branch_id = ?2) "
                                       "ORDER BY p.created_at, p.id LIMIT ?3 OFFSET ?4",
                                       kPasswordColumns, kPasswordJoins),
                           {database_id, branch_id ? Value(*branch_id) : Value(nullptr), std::int64_t{limit},
                            std::int64_t{offset}}));
  return CollectAll(s, ReadPassword);
}

Result<int> Store::CountPasswords(const std::string& database_id, const std::optional<std::string>& branch_id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COUNT(*) FROM passwords WHERE database_id = ?1 "
                                              "AND (?2 IS NULL OR branch_id = ?2)",
                                              {database_id, branch_id ? Value(*branch_id) : Value(nullptr)}));
  SCION_TRY(s.Step());
  return static_cast<int>(s.Int(0));
}

Status Store::UpdatePasswordExpiry(const std::string& id, std::int64_t expires_at) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(int changed, db_->Run("UPDATE passwords SET expires_at = ?2 WHERE id = ?1", {id, expires_at}));
  if (changed == 0) return std::unexpected(PasswordNotFound(fmt::format("\"{}\"", id)));
  return Ok();
}

Status Store::DeletePassword(const std::string& id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(int changed, db_->Run("DELETE FROM passwords WHERE id = ?1", {id}));
  if (changed == 0) return std::unexpected(PasswordNotFound(fmt::format("\"{}\"", id)));
  return Ok();
}

Status Store::PutBaseSchema(const std::string& branch_id, const std::string& objects_json) {
  std::lock_guard lock(mu_);
  SCION_TRY(db_->Run("INSERT INTO branch_base_schemas (branch_id, objects) VALUES (?1, ?2) ON CONFLICT(branch_id) DO "
                     "UPDATE SET objects = ?2",
                     {branch_id, objects_json}));
  return Ok();
}

Result<std::optional<std::string>> Store::GetBaseSchema(const std::string& branch_id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT objects FROM branch_base_schemas WHERE branch_id = ?1", {branch_id}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

Result<int> Store::InsertDeployRequest(const StoredDeployRequest& dr) {
  std::lock_guard lock(mu_);
  internal::Transaction tx(*db_);
  SCION_TRY(tx.begun());
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COALESCE(MAX(number), 0) + 1 FROM deploy_requests WHERE "
                                              "database_id = ?1",
                                              {dr.database_id}));
  SCION_ASSIGN_OR_RETURN(bool row, s.Step());
  int number = row ? static_cast<int>(s.Int(0)) : 1;
  SCION_TRY(db_->Run("INSERT INTO deploy_requests (id, database_id, number, state, deployment_state, body, created_at, "
                     "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                     {dr.id, dr.database_id, number, dr.state, dr.deployment_state, dr.body, dr.created_at}));
  SCION_TRY(tx.Commit());
  return number;
}

Status Store::UpdateDeployRequest(const StoredDeployRequest& dr) {
  std::lock_guard lock(mu_);
  SCION_TRY(db_->Run("UPDATE deploy_requests SET state = ?2, deployment_state = ?3, body = ?4, updated_at = ?5 WHERE "
                     "id = ?1",
                     {dr.id, dr.state, dr.deployment_state, dr.body, dr.updated_at}));
  return Ok();
}

namespace {
Result<std::vector<StoredDeployRequest>> CollectDeployRequests(internal::Statement& s) {
  std::vector<StoredDeployRequest> out;
  for (;;) {
    SCION_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back({.id = s.Text(0),
                   .database_id = s.Text(1),
                   .number = static_cast<int>(s.Int(2)),
                   .state = s.Text(3),
                   .deployment_state = s.Text(4),
                   .body = s.Text(5),
                   .created_at = s.Int(6),
                   .updated_at = s.Int(7)});
  }
}
constexpr const char* kSelectDeployRequest =
    "SELECT id, database_id, number, state, deployment_state, body, created_at, updated_at FROM deploy_requests ";
}  // namespace

Result<StoredDeployRequest> Store::FindDeployRequest(const std::string& database_id, int number) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare(std::string(kSelectDeployRequest) +
                                                  "WHERE database_id = ?1 AND number = ?2",
                                              {database_id, number}));
  SCION_ASSIGN_OR_RETURN(auto all, CollectDeployRequests(s));
  if (all.empty()) return MakeError(ErrorCode::kNotFound, fmt::format("deploy request #{} not found", number));
  return all[0];
}

Result<std::vector<StoredDeployRequest>> Store::ListDeployRequests(const std::string& database_id) {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare(std::string(kSelectDeployRequest) +
                                                  "WHERE database_id = ?1 ORDER BY number DESC",
                                              {database_id}));
  return CollectDeployRequests(s);
}

Result<std::vector<StoredDeployRequest>> Store::AllDeployRequests() {
  std::lock_guard lock(mu_);
  SCION_ASSIGN_OR_RETURN(auto s, db_->Prepare(std::string(kSelectDeployRequest) + "ORDER BY created_at"));
  return CollectDeployRequests(s);
}

}  // namespace scion::control
