// Domain records of the control plane.
#pragma once

#include <cstdint>
#include <string>

namespace scion::control {

struct Organization {
  std::string id;
  std::string name;
  std::int64_t created_at = 0;  // Unix millis
};

struct Database {
  std::string id;
  std::string org_id;
  std::string name;
  std::string default_branch = "main";
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// Lifecycle of a branch. `pending` until its instance runs with the parent's schema.
enum class BranchState { kPending, kReady, kError };
std::string_view BranchStateName(BranchState state);
BranchState ParseBranchState(std::string_view name);

struct Branch {
  std::string id;  // also the instance id
  std::string database_id;
  std::string database_name;  // joined for convenience
  std::string name;
  std::string parent_branch;  // empty for the database's first branch
  bool production = false;
  bool safe_migrations = false;
  BranchState state = BranchState::kPending;
  std::string error;  // why the branch is in kError
  std::uint32_t server_id = 0;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct ServiceToken {
  std::string id;
  std::string org_id;
  std::string name;
  std::string token_hash;  // SHA-256 hex of the secret
  std::int64_t created_at = 0;
};

// A branch password: a username and a secret that log in to one branch, with one role, through
// the gateway. Only verifiers of the secret are kept; the plain text is shown once at creation.
struct Password {
  std::string id;
  std::string database_id;
  std::string database_name;  // joined for convenience
  std::string branch_id;
  std::string branch_name;  // joined for convenience
  std::string name;
  std::string username;         // unique across the platform
  std::string role;             // reader | writer | readwriter | admin
  std::string native_verifier;  // SHA1(SHA1(password)), lowercase hex of 20 bytes
  std::string slow_hash;        // mysql::SlowHash(password)
  std::int64_t ttl_seconds = 0;  // 0: never expires
  std::int64_t created_at = 0;   // Unix millis
  std::int64_t expires_at = 0;   // Unix millis; 0: never
  std::string created_by;        // id of the service token that created it
};

// A deploy request as stored: states for queries, everything else in `body` (JSON).
struct StoredDeployRequest {
  std::string id;
  std::string database_id;
  int number = 0;
  std::string state;             // open | closed
  std::string deployment_state;  // PlanetScale's: pending, ready, no_changes, queued, ...
  std::string body;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

}  // namespace scion::control
