// The client side of the connection phase as pure functions over payloads: reading a server's
// greeting and auth switch, writing the handshake response (or SSLRequest). Shared by the
// blocking client, the gateway's backend connector and `scion connect`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion::mysql {

struct Greeting {
  std::string server_version;
  std::uint32_t connection_id = 0;
  std::string nonce;  // 20 bytes
  std::uint32_t capabilities = 0;
  std::uint8_t collation = 0;
  std::uint16_t status = 0;
  std::string auth_plugin;
};

// Parses an Initial Handshake Packet v10. A server's ERR packet (e.g. too many connections)
// becomes kBackendUnavailable with the server's message; anything malformed is kProtocol.
Result<Greeting> ParseGreeting(std::string_view payload);

struct LoginRequest {
  std::uint32_t capabilities = 0;  // kClientPluginAuth etc.; kClientConnectWithDb is added for a database
  std::uint8_t collation = 45;
  std::string user;
  std::string auth_response;
  std::string database;
  std::string auth_plugin = "mysql_native_password";
};

// HandshakeResponse41 for `req`.
std::string BuildHandshakeResponse(const LoginRequest& req);

// The 32-byte SSLRequest that precedes the TLS handshake.
std::string BuildSslRequest(std::uint32_t capabilities, std::uint8_t collation);

struct AuthSwitch {
  std::string plugin;
  std::string nonce;  // trailing NUL removed
};

// An Auth Switch Request (first byte 0xFE), or nullopt when `payload` is not one.
std::optional<AuthSwitch> ParseAuthSwitch(std::string_view payload);

}  // namespace scion::mysql
