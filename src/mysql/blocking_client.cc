#include "mysql/blocking_client.h"

#include <fmt/format.h>

#include "mysql/protocol.h"
#include "mysql/wire.h"

namespace scion::mysql {
namespace {

constexpr std::uint32_t kWantedCapabilities = kClientLongPassword | kClientLongFlag | kClientProtocol41 |
                                              kClientTransactions | kClientSecureConnection | kClientMultiResults |
                                              kClientPluginAuth | kClientPluginAuthLenencData;

bool IsOk(std::string_view p) { return !p.empty() && static_cast<std::uint8_t>(p[0]) == 0x00; }
bool IsEof(std::string_view p) { return !p.empty() && static_cast<std::uint8_t>(p[0]) == 0xfe && p.size() < 9; }

}  // namespace

Result<std::unique_ptr<BlockingClient>> BlockingClient::Connect(const ClientOptions& options) {
  SCION_ASSIGN_OR_RETURN(int fd, ConnectSocket(options.endpoint, options.timeout));
  auto client = std::unique_ptr<BlockingClient>(new BlockingClient(std::make_unique<PacketChannel>(fd)));
  client->channel_->set_read_timeout(options.timeout);
  SCION_TRY(client->Handshake(options));
  return client;
}

Status BlockingClient::Handshake(const ClientOptions& options) {
  SCION_ASSIGN_OR_RETURN(std::string greeting, channel_->Read());
  if (ParseErrPacket(greeting, &last_error_)) return std::unexpected(ToError(last_error_));
  ByteReader r(greeting);
  std::uint8_t version = r.U8();
  if (version != 10) return MakeError(ErrorCode::kProtocol, fmt::format("unsupported handshake version {}", version));
  server_version_ = std::string(r.NulString());
  connection_id_ = r.U32();
  std::string nonce(r.Bytes(8));
  r.Skip(1);
  std::uint32_t caps = r.U16();
  r.Skip(1);  // charset
  r.Skip(2);  // status
  caps |= static_cast<std::uint32_t>(r.U16()) << 16;
  std::uint8_t auth_len = r.U8();
  r.Skip(6);
  r.Skip(4);  // MariaDB extended capabilities
  if (caps & kClientSecureConnection) {
    std::size_t n = std::max<int>(13, auth_len - 8);
    auto part2 = r.Bytes(n);
    nonce.append(part2.substr(0, part2.size() - 1));  // trailing NUL
  }
  std::string plugin = (caps & kClientPluginAuth) ? std::string(r.NulString()) : "mysql_native_password";
  if (!r.ok()) return MakeError(ErrorCode::kProtocol, "malformed handshake from MariaDB");
  if ((caps & kClientProtocol41) == 0) return MakeError(ErrorCode::kProtocol, "server does not speak protocol 4.1");

  std::uint32_t client_caps = kWantedCapabilities & caps;
  if (!options.database.empty()) client_caps |= kClientConnectWithDb;
  ByteWriter w;
  w.U32(client_caps);
  w.U32(static_cast<std::uint32_t>(kMaxPacketPayload));
  w.U8(kCollationUtf8mb4);
  w.Zeros(23);
  w.NulString(options.user);
  std::string auth = NativePasswordScramble(options.password, nonce);
  if (client_caps & kClientPluginAuthLenencData) {
    w.LenencString(auth);
  } else {
    w.U8(static_cast<std::uint8_t>(auth.size()));
    w.Bytes(auth);
  }
  if (client_caps & kClientConnectWithDb) w.NulString(options.database);
  if (client_caps & kClientPluginAuth) w.NulString("mysql_native_password");
  SCION_TRY(channel_->Write(w.str()));

  SCION_ASSIGN_OR_RETURN(std::string reply, channel_->Read());
  if (!reply.empty() && static_cast<std::uint8_t>(reply[0]) == 0xfe) {
    // Auth switch request: plugin name, then the new nonce.
    ByteReader sw(std::string_view(reply).substr(1));
    std::string new_plugin(sw.NulString());
    std::string_view data = sw.Rest();
    if (!data.empty() && data.back() == '\0') data.remove_suffix(1);
    if (new_plugin != "mysql_native_password") {
      return MakeError(ErrorCode::kProtocol, fmt::format("MariaDB asked for auth plugin {}, which is not supported",
                                                         new_plugin));
    }
    SCION_TRY(channel_->Write(NativePasswordScramble(options.password, data)));
    SCION_ASSIGN_OR_RETURN(reply, channel_->Read());
  }
  (void)plugin;
  if (ParseErrPacket(reply, &last_error_)) {
    auto e = ToError(last_error_);
    e.code = ErrorCode::kBackendUnavailable;
    return std::unexpected(e);
  }
  if (!IsOk(reply)) return MakeError(ErrorCode::kProtocol, "unexpected answer to the handshake");
  return Ok();
}

Status BlockingClient::SendCommand(std::string_view payload) {
  channel_->ResetSequence();
  return channel_->Write(payload);
}

Result<TextResult> BlockingClient::Query(std::string_view sql) {
  std::string payload;
  payload += static_cast<char>(kComQuery);
  payload.append(sql);
  SCION_TRY(SendCommand(payload));
  SCION_ASSIGN_OR_RETURN(std::string first, channel_->Read());
  TextResult out;
  if (ParseErrPacket(first, &last_error_)) return std::unexpected(ToError(last_error_));
  if (IsOk(first)) {
    ByteReader r(std::string_view(first).substr(1));
    out.affected_rows = r.LenencInt();
    return out;
  }
  ByteReader cr(first);
  std::uint64_t ncols = cr.LenencInt();
  if (!cr.ok() || ncols == 0 || ncols > 4096) return MakeError(ErrorCode::kProtocol, "malformed result set header");
  for (std::uint64_t i = 0; i < ncols; ++i) {
    SCION_ASSIGN_OR_RETURN(std::string def, channel_->Read());
    ByteReader d(def);
    for (int k = 0; k < 4; ++k) d.LenencString();  // catalog, schema, table, org_table
    out.columns.emplace_back(d.LenencString());
    if (!d.ok()) return MakeError(ErrorCode::kProtocol, "malformed column definition");
  }
  SCION_ASSIGN_OR_RETURN(std::string eof, channel_->Read());
  if (!IsEof(eof)) return MakeError(ErrorCode::kProtocol, "missing EOF after column definitions");
  while (true) {
    SCION_ASSIGN_OR_RETURN(std::string row, channel_->Read());
    if (IsEof(row)) break;
    if (ParseErrPacket(row, &last_error_)) return std::unexpected(ToError(last_error_));
    ByteReader rr(row);
    std::vector<std::optional<std::string>> values;
    values.reserve(ncols);
    for (std::uint64_t i = 0; i < ncols; ++i) {
      bool is_null = false;
      auto v = rr.LenencString(&is_null);
      if (is_null) {
        values.emplace_back(std::nullopt);
      } else {
        values.emplace_back(std::string(v));
      }
    }
    if (!rr.ok()) return MakeError(ErrorCode::kProtocol, "malformed row");
    out.rows.push_back(std::move(values));
  }
  return out;
}

}  // namespace scion::mysql
