#include "cli/credentials.h"

#include <nlohmann/json.hpp>

#include <cstdlib>

#include "base/files.h"

namespace scion::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

fs::path Home() {
  std::string home = Env("HOME");
  return home.empty() ? fs::path("/") : fs::path(home);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The local admin token is only ever offered to a server on this machine.
bool IsLocalServer(std::string_view server) {
  if (server.starts_with("http://")) server.remove_prefix(7);
  for (std::string_view host : {"127.0.0.1", "localhost", "[::1]"}) {
    if (server.starts_with(host) && (server.size() == host.size() || server[host.size()] == ':' ||
                                     server[host.size()] == '/')) {
      return true;
    }
  }
  return false;
}

}  // namespace

fs::path ConfigDir() {
  std::string xdg = Env("XDG_CONFIG_HOME");
  return (xdg.empty() ? Home() / ".config" : fs::path(xdg)) / "scion";
}

fs::path CredentialsPath() { return ConfigDir() / "credentials.json"; }

fs::path DefaultDataDir() {
  std::string env = Env("SCION_HOME");
  if (!env.empty()) return env;
  return Home() / ".local" / "share" / "scion";
}

Credentials ResolveCredentials(const std::string& flag_server, const std::string& flag_token) {
  Credentials c;
  json file = json::object();
  if (auto content = ReadFile(CredentialsPath())) {
    file = json::parse(*content, nullptr, false);
    if (!file.is_object()) file = json::object();
  }
  c.server = !flag_server.empty()            ? flag_server
             : !Env("SCION_SERVER").empty() ? Env("SCION_SERVER")
             : file.contains("server") && file["server"].is_string() ? file["server"].get<std::string>()
                                                                     : std::string(kDefaultServer);
  if (!flag_token.empty()) {
    c.token = flag_token;
    c.source = "--token";
  } else if (!Env("SCION_TOKEN").empty()) {
    c.token = Env("SCION_TOKEN");
    c.source = "SCION_TOKEN";
  } else if (file.contains("token") && file["token"].is_string()) {
    c.token = file["token"].get<std::string>();
    c.source = CredentialsPath().string();
  } else if (auto admin = IsLocalServer(c.server) ? ReadFile(DefaultDataDir() / "admin-token")
                                                   : Result<std::string>(std::unexpected(Error{}))) {
    c.token = Trim(*admin);
    c.source = (DefaultDataDir() / "admin-token").string();
  }
  return c;
}

Status SaveCredentials(const std::string& server, const std::string& token) {
  SCION_TRY(MakeDirs(ConfigDir(), 0700));
  json j = {{"server", server}, {"token", token}};
  return WriteFileAtomic(CredentialsPath(), j.dump(2) + "\n", 0600);
}

Result<bool> RemoveCredentials() {
  std::error_code ec;
  bool removed = fs::remove(CredentialsPath(), ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot remove " + CredentialsPath().string() + ": " + ec.message());
  return removed;
}

}  // namespace scion::cli
