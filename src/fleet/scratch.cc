#include "fleet/scratch.h"

#include "base/crypto.h"

namespace scion::fleet {
namespace fs = std::filesystem;

Result<std::unique_ptr<ScratchInstance>> ScratchInstance::Start(ScratchOptions options) {
  auto scratch = std::unique_ptr<ScratchInstance>(new ScratchInstance());
  scratch->dir_ = fs::temp_directory_path() / ("scion-scratch-" + RandomId(8));
  FleetOptions o;
  o.root = scratch->dir_ / "instances";
  o.template_dir = scratch->dir_ / "template";
  o.accounts = GenerateAccounts();
  o.supervise_interval = options.supervise_interval;
  o.max_backoff = options.max_backoff;
  SCION_ASSIGN_OR_RETURN(scratch->fleet_, Fleet::Open(std::move(o)));
  InstanceSpec spec{.id = kId, .database = options.database, .server_id = options.server_id};
  SCION_TRY(scratch->fleet_->Create(spec));
  SCION_TRY(scratch->fleet_->Start(spec));
  return scratch;
}

ScratchInstance::~ScratchInstance() {
  if (fleet_) fleet_->StopAll();
  fleet_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

mysql::ConnectOptions ScratchInstance::InternalConnectOptions(const std::string& database) const {
  return {.unix_socket = socket_path(),
          .user = accounts().internal.user,
          .password = accounts().internal.password,
          .database = database};
}

Result<std::unique_ptr<mysql::AdminConnection>> ScratchInstance::Connect(const std::string& database) const {
  return mysql::AdminConnection::Connect(InternalConnectOptions(database));
}

}  // namespace scion::fleet
