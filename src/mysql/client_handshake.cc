#include "mysql/client_handshake.h"

#include <algorithm>

#include <fmt/format.h>

#include "mysql/protocol.h"
#include "mysql/wire.h"

namespace scion::mysql {

Result<Greeting> ParseGreeting(std::string_view payload) {
  ServerError err;
  if (ParseErrPacket(payload, &err)) {
    auto e = ToError(err);
    e.code = ErrorCode::kBackendUnavailable;
    return std::unexpected(e);
  }
  ByteReader r(payload);
  Greeting g;
  std::uint8_t version = r.U8();
  if (version != 10) return MakeError(ErrorCode::kProtocol, fmt::format("unsupported handshake version {}", version));
  g.server_version = std::string(r.NulString());
  g.connection_id = r.U32();
  g.nonce = std::string(r.Bytes(8));
  r.Skip(1);
  g.capabilities = r.U16();
  g.collation = r.U8();
  g.status = r.U16();
  g.capabilities |= static_cast<std::uint32_t>(r.U16()) << 16;
  std::uint8_t auth_len = r.U8();
  r.Skip(10);  // reserved (MariaDB: 6 reserved + 4 extended capability bytes)
  if (g.capabilities & kClientSecureConnection) {
    std::size_t n = std::max<int>(13, auth_len - 8);
    auto part2 = r.Bytes(n);
    if (!part2.empty()) g.nonce.append(part2.substr(0, part2.size() - 1));  // trailing NUL
  }
  g.auth_plugin = (g.capabilities & kClientPluginAuth) ? std::string(r.NulString()) : "mysql_native_password";
  if (!r.ok()) return MakeError(ErrorCode::kProtocol, "malformed handshake from the server");
  if ((g.capabilities & kClientProtocol41) == 0) {
    return MakeError(ErrorCode::kProtocol, "the server does not speak protocol 4.1");
  }
  return g;
}

std::string BuildHandshakeResponse(const LoginRequest& req) {
  std::uint32_t caps = req.capabilities | kClientProtocol41 | kClientSecureConnection;
  if (!req.database.empty()) caps |= kClientConnectWithDb;
  ByteWriter w;
  w.U32(caps);
  w.U32(static_cast<std::uint32_t>(kMaxPacketPayload));
  w.U8(req.collation);
  w.Zeros(23);
  w.NulString(req.user);
  if (caps & kClientPluginAuthLenencData) {
    w.LenencString(req.auth_response);
  } else {
    w.U8(static_cast<std::uint8_t>(req.auth_response.size()));
    w.Bytes(req.auth_response);
  }
  if (caps & kClientConnectWithDb) w.NulString(req.database);
  if (caps & kClientPluginAuth) w.NulString(req.auth_plugin);
  return w.Take();
}

std::string BuildSslRequest(std::uint32_t capabilities, std::uint8_t collation) {
  ByteWriter w;
  w.U32(capabilities | kClientSsl | kClientProtocol41);
  w.U32(static_cast<std::uint32_t>(kMaxPacketPayload));
  w.U8(collation);
  w.Zeros(23);
  return w.Take();
}

std::optional<AuthSwitch> ParseAuthSwitch(std::string_view payload) {
  if (payload.empty() || static_cast<std::uint8_t>(payload[0]) != 0xfe) return std::nullopt;
  ByteReader r(payload.substr(1));
  AuthSwitch s;
  s.plugin = std::string(r.NulString());
  std::string_view data = r.Rest();
  if (!data.empty() && data.back() == '\0') data.remove_suffix(1);
  s.nonce = std::string(data);
  return s;
}

}  // namespace scion::mysql
