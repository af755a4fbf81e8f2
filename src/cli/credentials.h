// Where the CLI finds its server and token.
//
// Order: --server/--token flags, then SCION_SERVER/SCION_TOKEN, then the credentials file written
// by `scion auth login` ($XDG_CONFIG_HOME/scion/credentials.json, else ~/.config/scion/...), then
// for a server on this machine the admin token of the default data folder.
#pragma once

#include <filesystem>
#include <string>

#include "base/error.h"

namespace scion::cli {

struct Credentials {
  std::string server;
  std::string token;
  std::string source;  // where the token came from, for `auth check`
};

inline constexpr const char* kDefaultServer = "http://127.0.0.1:8484";

std::filesystem::path ConfigDir();
std::filesystem::path CredentialsPath();
// --data-dir default: $SCION_HOME, else ~/.local/share/scion.
std::filesystem::path DefaultDataDir();

Credentials ResolveCredentials(const std::string& flag_server, const std::string& flag_token);
Status SaveCredentials(const std::string& server, const std::string& token);
// Returns false when there was nothing to remove.
Result<bool> RemoveCredentials();

}  // namespace scion::cli
