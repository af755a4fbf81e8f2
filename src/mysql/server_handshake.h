// The server side of the connection phase (protocol v10): the greeting, the client's handshake
// response (or its SSLRequest), auth switch, and OK/ERR packets. Pure functions over payloads,
// for the gateway's sessions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion::mysql {

struct ServerGreeting {
  std::uint32_t connection_id = 0;
  std::string nonce;  // 20 bytes of randomness (no NUL bytes)
  std::uint32_t capabilities = 0;
  std::uint8_t collation = 45;  // utf8mb4_general_ci
  std::uint16_t status = 2;     // SERVER_STATUS_AUTOCOMMIT
  std::string server_version = "5.7.255-Scion";
  std::string auth_plugin = "mysql_native_password";
};

// The Initial Handshake Packet v10 payload.
std::string BuildGreeting(const ServerGreeting& g);

// A nonce for the greeting: 20 random printable bytes (clients treat it as a C string).
std::string NewNonce();

struct HandshakeResponse {
  bool ssl_request = false;  // a 32-byte SSLRequest: switch to TLS, then the real response follows
  std::uint32_t capabilities = 0;
  std::uint32_t max_packet = 0;
  std::uint8_t collation = 0;
  std::string user;
  std::string auth_response;
  std::string database;
  std::string auth_plugin;
  std::map<std::string, std::string> attributes;
};

// Parses a HandshakeResponse41 (or SSLRequest). Anything malformed is kProtocol, never a crash.
Result<HandshakeResponse> ParseHandshakeResponse(std::string_view payload);

// Auth Switch Request: asks the client to answer `nonce` with `plugin`.
std::string BuildAuthSwitch(std::string_view plugin, std::string_view nonce);

std::string BuildOk(std::uint64_t affected_rows = 0, std::uint64_t last_insert_id = 0, std::uint16_t status = 2,
                    std::uint16_t warnings = 0);
std::string BuildErr(std::uint16_t code, std::string_view sql_state, std::string_view message);

}  // namespace scion::mysql
