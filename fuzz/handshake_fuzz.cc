// Fuzz target: both sides of the connection phase on arbitrary bytes. The gateway parses a
// client's HandshakeResponse41 / SSLRequest before it knows who the client is, and the backend
// connector parses a server's greeting and auth switch; none of them may crash, and what they
// accept must be consistent with the bytes they were given.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "mysql/client_handshake.h"
#include "mysql/protocol.h"
#include "mysql/server_handshake.h"

namespace {

using namespace scion::mysql;

void Require(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "handshake_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

void CheckHandshakeResponse(std::string_view in) {
  auto h = ParseHandshakeResponse(in);
  if (!h) {
    Require(h.error().code == scion::ErrorCode::kProtocol, "a bad handshake response is kProtocol");
    return;
  }
  Require(h->capabilities & kClientProtocol41, "accepted responses speak protocol 4.1");
  Require(h->user.size() <= 256, "user name at most 256 bytes");
  Require(h->user.find('\0') == std::string::npos, "user name has no NUL");
  Require(h->database.find('\0') == std::string::npos, "database has no NUL");
  Require(h->auth_plugin.find('\0') == std::string::npos, "auth plugin has no NUL");
  if (h->ssl_request) {
    Require(in.size() == 32 && h->user.empty(), "an SSLRequest is exactly the 32-byte prefix");
    Require(h->capabilities & kClientSsl, "an SSLRequest asks for SSL");
  }
  // Every field is a slice of the payload after the 32-byte fixed part.
  std::size_t total = h->user.size() + h->auth_response.size() + h->database.size() + h->auth_plugin.size();
  for (const auto& [k, v] : h->attributes) total += k.size() + v.size();
  Require(total + 32 <= in.size(), "fields fit in the payload");
}

void CheckGreeting(std::string_view in) {
  auto g = ParseGreeting(in);
  if (!g) {
    bool err_packet = !in.empty() && static_cast<std::uint8_t>(in[0]) == 0xff;
    Require(g.error().code == (err_packet ? scion::ErrorCode::kBackendUnavailable : scion::ErrorCode::kProtocol),
            "a server ERR is kBackendUnavailable, anything else malformed is kProtocol");
    return;
  }
  Require(!in.empty() && in[0] == 10, "accepted greetings are protocol v10");
  Require(g->capabilities & kClientProtocol41, "accepted greetings speak protocol 4.1");
  Require(g->server_version.size() + g->nonce.size() + g->auth_plugin.size() < in.size() ||
              !(g->capabilities & kClientPluginAuth),
          "fields fit in the payload");
}

void CheckAuthSwitch(std::string_view in) {
  auto s = ParseAuthSwitch(in);
  if (!s) {
    Require(in.empty() || static_cast<std::uint8_t>(in[0]) != 0xfe, "a 0xFE packet is an auth switch");
    return;
  }
  Require(s->plugin.size() + s->nonce.size() < in.size(), "fields fit in the payload");
  Require(s->plugin.find('\0') == std::string::npos, "plugin name has no NUL");
}

std::string WithoutNul(std::string s) {
  std::erase(s, '\0');
  return s;
}

// A greeting we build with fuzz-derived fields must parse back to the same fields.
void CheckGreetingRoundTrip(std::string_view in) {
  FuzzedDataProvider p(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
  ServerGreeting sg;
  sg.connection_id = p.ConsumeIntegral<std::uint32_t>();
  sg.capabilities = p.ConsumeIntegral<std::uint32_t>() | kClientProtocol41 | kClientSecureConnection | kClientPluginAuth;
  sg.collation = p.ConsumeIntegral<std::uint8_t>();
  sg.status = p.ConsumeIntegral<std::uint16_t>();
  sg.server_version = WithoutNul(p.ConsumeRandomLengthString(64));
  sg.auth_plugin = WithoutNul(p.ConsumeRandomLengthString(64));
  sg.nonce.clear();  // 20 printable bytes, as NewNonce makes them (deterministic here)
  for (int i = 0; i < 20; ++i) sg.nonce += static_cast<char>(33 + p.ConsumeIntegral<std::uint8_t>() % 94);
  auto g = ParseGreeting(BuildGreeting(sg));
  Require(g.has_value(), "our greeting parses");
  Require(g->connection_id == sg.connection_id && g->capabilities == sg.capabilities &&
              g->collation == sg.collation && g->status == sg.status,
          "greeting integers round-trip");
  Require(g->server_version == sg.server_version && g->auth_plugin == sg.auth_plugin && g->nonce == sg.nonce,
          "greeting strings round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckHandshakeResponse(in);
  CheckGreeting(in);
  CheckAuthSwitch(in);
  CheckGreetingRoundTrip(in);
  return 0;
}
