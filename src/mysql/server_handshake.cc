#include "mysql/server_handshake.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include "mysql/protocol.h"
#include "mysql/wire.h"

namespace scion::mysql {
std::string NewNonce() {
  unsigned char raw[20];
  RAND_bytes(raw, sizeof(raw));
  std::string out(20, '\0');
  for (int i = 0; i < 20; ++i) out[i] = static_cast<char>(33 + raw[i] % 94);  // printable, never NUL
  return out;
}

std::string BuildGreeting(const ServerGreeting& g) {
  ByteWriter w;
  w.U8(10);
  w.NulString(g.server_version);
  w.U32(g.connection_id);
  w.Bytes(std::string_view(g.nonce).substr(0, 8));
  w.U8(0);
  w.U16(static_cast<std::uint16_t>(g.capabilities & 0xffff));
  w.U8(g.collation);
  w.U16(g.status);
  w.U16(static_cast<std::uint16_t>(g.capabilities >> 16));
  w.U8(static_cast<std::uint8_t>(g.nonce.size() + 1));
  w.Zeros(10);
  w.Bytes(std::string_view(g.nonce).substr(8));
  w.U8(0);
  w.NulString(g.auth_plugin);
  return w.Take();
}

Result<HandshakeResponse> ParseHandshakeResponse(std::string_view payload) {
  auto bad = [](std::string_view why) {
    return MakeError(ErrorCode::kProtocol, fmt::format("malformed handshake response: {}", why));
  };
  ByteReader r(payload);
  HandshakeResponse h;
  h.capabilities = r.U32();
  h.max_packet = r.U32();
  h.collation = r.U8();
  r.Skip(23);
  if (!r.ok()) return bad("too short");
  if ((h.capabilities & kClientProtocol41) == 0) return bad("the client does not speak protocol 4.1");
  if (r.empty()) {
    if ((h.capabilities & kClientSsl) == 0) return bad("no user name");
    h.ssl_request = true;
    return h;
  }
  h.user = std::string(r.NulString());
  if (h.capabilities & kClientPluginAuthLenencData) {
    h.auth_response = std::string(r.LenencString());
  } else if (h.capabilities & kClientSecureConnection) {
    h.auth_response = std::string(r.Bytes(r.U8()));
  } else {
    h.auth_response = std::string(r.NulString());
  }
  if ((h.capabilities & kClientConnectWithDb) && !r.empty()) h.database = std::string(r.NulString());
  if ((h.capabilities & kClientPluginAuth) && !r.empty()) h.auth_plugin = std::string(r.NulString());
  if ((h.capabilities & kClientConnectAttrs) && !r.empty()) {
    std::uint64_t len = r.LenencInt();
    if (len > r.remaining()) return bad("connection attributes longer than the packet");
    ByteReader a(r.Bytes(len));
    while (a.ok() && !a.empty()) {
      std::string k(a.LenencString());
      std::string v(a.LenencString());
      if (a.ok()) h.attributes[std::move(k)] = std::move(v);
    }
  }
  if (!r.ok()) return bad("truncated");
  if (h.user.size() > 256) return bad("user name too long");
  return h;
}

std::string BuildAuthSwitch(std::string_view plugin, std::string_view nonce) {
  ByteWriter w;
  w.U8(0xfe);
  w.NulString(plugin);
  w.Bytes(nonce);
  w.U8(0);
  return w.Take();
}

std::string BuildOk(std::uint64_t affected_rows, std::uint64_t last_insert_id, std::uint16_t status,
                    std::uint16_t warnings) {
  ByteWriter w;
  w.U8(0);
  w.LenencInt(affected_rows);
  w.LenencInt(last_insert_id);
  w.U16(status);
  w.U16(warnings);
  return w.Take();
}

std::string BuildErr(std::uint16_t code, std::string_view sql_state, std::string_view message) {
  ByteWriter w;
  w.U8(0xff);
  w.U16(code);
  w.U8('#');
  std::string state(sql_state.substr(0, 5));
  state.resize(5, '0');
  w.Bytes(state);
  w.Bytes(message);
  return w.Take();
}

}  // namespace scion::mysql
