// The control plane's answer to the gateway: gateway::Directory over the metadata store and the
// fleet. Internal to control/; others see it as gateway::Directory through
// ControlPlane::directory().
#pragma once

#include <atomic>
#include <cstdint>

#include "control/store.h"
#include "fleet/fleet.h"
#include "gateway/directory.h"

namespace scion::control::internal {

// Thread-safe: the store and the fleet serialize their own state; the generation is atomic.
// Borrows `store` and `fleet`, which must outlive it.
class PlatformDirectory final : public gateway::Directory {
 public:
  PlatformDirectory(Store& store, const fleet::Fleet& fleet) : store_(store), fleet_(fleet) {}
  PlatformDirectory(const PlatformDirectory&) = delete;
  PlatformDirectory& operator=(const PlatformDirectory&) = delete;

  Result<gateway::Login> FindLogin(std::string_view username) override;
  Result<gateway::Backend> BackendFor(const std::string& branch_id, std::string_view role) override;
  std::uint64_t Generation() const override { return generation_.load(std::memory_order_acquire); }

  // Called after a change that may invalidate open sessions (a password deleted or renewed,
  // safe migrations switched, a branch or database deleted).
  void Bump() { generation_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  Store& store_;
  const fleet::Fleet& fleet_;
  std::atomic<std::uint64_t> generation_{1};
};

}  // namespace scion::control::internal
