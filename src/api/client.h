// A blocking client of the REST API, used by the CLI.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion::api {

struct ClientOptions {
  std::string server;  // base URL, e.g. http://127.0.0.1:8484
  std::string token;   // "ID:TOKEN"
  int timeout_seconds = 120;
};

class Client {
 public:
  explicit Client(ClientOptions options) : options_(std::move(options)) {}

  // Sends a request and returns the JSON answer (null for an empty 2xx answer). An error answer
  // becomes an Error with the server's code, message and hint; an unreachable server is
  // kUnavailable with a hint to start it.
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nullptr) const;

  Result<nlohmann::json> Get(const std::string& path) const { return Call("GET", path); }
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& body = nlohmann::json::object()) const {
    return Call("POST", path, body);
  }
  Result<nlohmann::json> Delete(const std::string& path) const { return Call("DELETE", path); }

  // GETs a newline-delimited JSON stream, calling `on_line` per line until the server ends the
  // stream or `on_line` returns false. An error answer before the stream starts is returned as
  // an Error like Call's.
  Status Stream(const std::string& path, const std::function<bool(std::string_view line)>& on_line) const;

  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
};

// Maps an API error code string back to an ErrorCode.
ErrorCode ErrorCodeFromName(std::string_view name);

// Percent-encodes a path segment or query value.
std::string UrlEncode(std::string_view s);

}  // namespace scion::api
