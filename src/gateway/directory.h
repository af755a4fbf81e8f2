// What the gateway needs to know about the platform, as an interface the control plane
// implements: which branch and role a username logs in to, how to check its password, and where
// the branch's instance listens. The gateway never reads the metadata store itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion::gateway {

// A branch password, as the gateway sees it. Holds verifiers only, never the password.
struct Login {
  std::string password_id;
  std::string username;
  std::string database;   // the database's name, also the instance's schema
  std::string branch;     // the branch's name (for messages)
  std::string branch_id;  // also the instance id
  std::string role;       // reader | writer | readwriter | admin
  std::string native_verifier;  // SHA1(SHA1(password)), 20 raw bytes
  std::string slow_hash;        // mysql::SlowHash(password)
  std::int64_t expires_at = 0;  // Unix millis; 0 = never
};

// How to reach a branch's instance with the backend account of a role.
struct Backend {
  std::string unix_socket;
  std::string user;
  std::string password;
  std::string schema;
  bool safe_migrations = false;
};

class Directory {
 public:
  virtual ~Directory() = default;

  // The live (not deleted) password with this username, expired or not (the gateway checks
  // `expires_at`). kNotFound when there is none. Thread-safe; called once per login.
  virtual Result<Login> FindLogin(std::string_view username) = 0;

  // The branch's instance and the backend account for `role`. kNotFound for a deleted branch,
  // kBackendUnavailable when its instance is not ready. Thread-safe.
  virtual Result<Backend> BackendFor(const std::string& branch_id, std::string_view role) = 0;

  // Increases whenever a password is deleted or renewed, or a branch's safe-migrations flag
  // changes or the branch goes away: sessions compare it and re-check their login. Lock-free.
  virtual std::uint64_t Generation() const = 0;
};

}  // namespace scion::gateway
