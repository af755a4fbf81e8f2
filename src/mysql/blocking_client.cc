#include "mysql/blocking_client.h"

#include <fmt/format.h>

#include "mysql/client_handshake.h"
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
  SCION_ASSIGN_OR_RETURN(std::string payload, channel_->Read());
  SCION_ASSIGN_OR_RETURN(Greeting greeting, ParseGreeting(payload));
  server_version_ = greeting.server_version;
  connection_id_ = greeting.connection_id;

  LoginRequest req;
  req.capabilities = kWantedCapabilities & greeting.capabilities;
  req.user = options.user;
  req.database = options.database;
  req.auth_response = NativePasswordScramble(options.password, greeting.nonce);
  SCION_TRY(channel_->Write(BuildHandshakeResponse(req)));

  SCION_ASSIGN_OR_RETURN(std::string reply, channel_->Read());
  if (auto sw = ParseAuthSwitch(reply)) {
    if (sw->plugin != "mysql_native_password") {
      return MakeError(ErrorCode::kProtocol, fmt::format("MariaDB asked for auth plugin {}, which is not supported",
                                                         sw->plugin));
    }
    SCION_TRY(channel_->Write(NativePasswordScramble(options.password, sw->nonce)));
    SCION_ASSIGN_OR_RETURN(reply, channel_->Read());
  }
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
