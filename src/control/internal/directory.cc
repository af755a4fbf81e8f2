#include "control/internal/directory.h"

#include <fmt/format.h>

#include "base/crypto.h"

namespace scion::control::internal {

Result<gateway::Login> PlatformDirectory::FindLogin(std::string_view username) {
  SCION_ASSIGN_OR_RETURN(auto p, store_.FindPasswordByUsername(std::string(username)));
  auto verifier = HexDecode(p.native_verifier);
  if (!verifier || verifier->size() != 20) {
    return MakeError(ErrorCode::kInternal, fmt::format("password {} has a malformed stored verifier", p.id));
  }
  return gateway::Login{.password_id = p.id,
                        .username = p.username,
                        .database = p.database_name,
                        .branch = p.branch_name,
                        .branch_id = p.branch_id,
                        .role = p.role,
                        .native_verifier = std::move(*verifier),
                        .slow_hash = p.slow_hash,
                        .expires_at = p.expires_at};
}

Result<gateway::Backend> PlatformDirectory::BackendFor(const std::string& branch_id, std::string_view role) {
  const auto& accounts = fleet_.accounts();
  const fleet::Account* account = nullptr;
  if (role == "reader") account = &accounts.reader;
  if (role == "writer") account = &accounts.writer;
  if (role == "readwriter") account = &accounts.readwriter;
  if (role == "admin") account = &accounts.admin;
  if (account == nullptr) return MakeError(ErrorCode::kInvalidArgument, fmt::format("unknown role \"{}\"", role));

  SCION_ASSIGN_OR_RETURN(auto b, store_.FindBranchById(branch_id));
  if (b.state != BranchState::kReady) {
    return MakeError(ErrorCode::kBackendUnavailable,
                     fmt::format("branch \"{}\" of database \"{}\" is {}, not ready", b.name, b.database_name,
                                 BranchStateName(b.state)));
  }
  auto status = fleet_.GetStatus(b.id);
  if (status.state != fleet::InstanceState::kRunning) {
    return MakeError(ErrorCode::kBackendUnavailable,
                     fmt::format("the instance of branch \"{}\" of database \"{}\" is {}", b.name, b.database_name,
                                 fleet::InstanceStateName(status.state)),
                     "try again in a moment");
  }
  return gateway::Backend{.unix_socket = fleet_.SocketPath(b.id).string(),
                          .user = account->user,
                          .password = account->password,
                          .schema = b.database_name,
                          .safe_migrations = b.safe_migrations};
}

}  // namespace scion::control::internal
