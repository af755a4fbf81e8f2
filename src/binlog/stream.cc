#include "binlog/stream.h"

#include <charconv>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/log.h"
#include "mysql/blocking_client.h"
#include "mysql/protocol.h"
#include "mysql/wire.h"

namespace scion::binlog {
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t kErrMasterFatalReadingBinlog = 1236;

bool ParseUint(std::string_view s, std::uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool IsTransactionControl(std::string_view sql) {
  return sql == "BEGIN" || sql == "COMMIT" || sql == "ROLLBACK";
}

}  // namespace

Result<std::map<std::uint32_t, Gtid>> ParseGtidPosition(std::string_view position) {
  std::map<std::uint32_t, Gtid> out;
  while (!position.empty()) {
    auto comma = position.find(',');
    std::string_view one = position.substr(0, comma);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    auto d1 = one.find('-'), d2 = one.find('-', d1 == std::string_view::npos ? d1 : d1 + 1);
    std::uint64_t domain = 0, server = 0, seq = 0;
    if (d1 == std::string_view::npos || d2 == std::string_view::npos || !ParseUint(one.substr(0, d1), &domain) ||
        !ParseUint(one.substr(d1 + 1, d2 - d1 - 1), &server) || !ParseUint(one.substr(d2 + 1), &seq) ||
        domain > UINT32_MAX || server > UINT32_MAX) {
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("invalid GTID \"{}\"", one),
                       "use DOMAIN-SERVER-SEQUENCE, e.g. 0-101-57, comma-separated per domain");
    }
    out[static_cast<std::uint32_t>(domain)] =
        Gtid{static_cast<std::uint32_t>(domain), static_cast<std::uint32_t>(server), seq};
    if (comma == std::string_view::npos) break;
    position.remove_prefix(comma + 1);
  }
  return out;
}

std::string FormatGtidPosition(const std::map<std::uint32_t, Gtid>& position) {
  std::string out;
  for (const auto& [domain, g] : position) {
    if (!out.empty()) out += ',';
    out += g.ToString();
  }
  return out;
}

BinlogStream::BinlogStream(StreamOptions options) : options_(std::move(options)) {
  std::random_device rd;
  // A replica server_id unique enough not to collide with another stream (MariaDB drops an older
  // dump connection that reuses a server_id) nor with the instances' own ids.
  replica_server_id_ = 0x40000000u | (rd() & 0x3fffffffu);
}

BinlogStream::~BinlogStream() = default;

void BinlogStream::Stop() {
  stop_ = true;
  // Unblock a read in progress.
  std::lock_guard lock(client_mu_);
  if (client_) client_->Shutdown();
}

void BinlogStream::SetClient(std::unique_ptr<mysql::BlockingClient> client) {
  std::unique_ptr<mysql::BlockingClient> old;
  std::lock_guard lock(client_mu_);
  old = std::move(client_);
  client_ = std::move(client);
  if (stop_ && client_) client_->Shutdown();
}

std::string BinlogStream::position() const { return FormatGtidPosition(position_); }

Status BinlogStream::Connect() {
  mysql::ClientOptions co{.endpoint = options_.endpoint,
                          .user = options_.user,
                          .password = options_.password,
                          .database = "",
                          .timeout = 10000ms};
  SCION_ASSIGN_OR_RETURN(auto client, mysql::BlockingClient::Connect(co));
  SCION_ASSIGN_OR_RETURN(auto vars, client->Query("SELECT @@global.binlog_checksum, @@global.gtid_binlog_pos, "
                                                  "@@global.log_bin, @@global.binlog_format"));
  if (vars.rows.empty()) return MakeError(ErrorCode::kProtocol, "no answer about the binlog settings");
  const auto& row = vars.rows[0];
  if (row[2].value_or("0") != "1") {
    return MakeError(ErrorCode::kFailedPrecondition, "the instance has no binary log (log_bin is off)");
  }
  if (row[3].value_or("") != "ROW") {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("the instance logs in {} format; the change stream needs ROW", row[3].value_or("?")));
  }
  checksums_ = row[0].value_or("NONE") != "NONE";
  if (!options_.start_position && position_.empty() && !current_) {
    // Start at the current end: the first connection pins it, reconnects resume from position_.
    SCION_ASSIGN_OR_RETURN(position_, ParseGtidPosition(row[1].value_or("")));
    options_.start_position = FormatGtidPosition(position_);
  }
  std::string start = FormatGtidPosition(position_);
  auto heartbeat_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.heartbeat).count();
  for (std::string sql : {std::string("SET @master_binlog_checksum = @@global.binlog_checksum"),
                          std::string("SET @mariadb_slave_capability = 4"),
                          fmt::format("SET @slave_connect_state = {}", mysql::QuoteString(start)),
                          std::string("SET @slave_gtid_strict_mode = 1"),
                          fmt::format("SET @master_heartbeat_period = {}", heartbeat_ns)}) {
    SCION_TRY(client->Query(sql));
  }
  if (options_.skip_marked) SCION_TRY(client->Query("SET SESSION skip_replication = 1"));
  // COM_REGISTER_SLAVE: server_id, host, user, password, port, rank, master id.
  mysql::ByteWriter reg;
  reg.U8(mysql::kComRegisterSlave);
  reg.U32(replica_server_id_);
  reg.U8(0);
  reg.U8(0);
  reg.U8(0);
  reg.U16(0);
  reg.U32(0);
  reg.U32(0);
  SCION_TRY(client->SendCommand(reg.str()));
  SCION_ASSIGN_OR_RETURN(std::string ok, client->ReadPacket());
  mysql::ServerError err;
  if (mysql::ParseErrPacket(ok, &err)) return std::unexpected(mysql::ToError(err));
  // COM_BINLOG_DUMP from GTID: position 4, no file name.
  mysql::ByteWriter dump;
  dump.U8(mysql::kComBinlogDump);
  dump.U32(4);
  dump.U16(0);
  dump.U32(replica_server_id_);
  SCION_TRY(client->SendCommand(dump.str()));
  client->channel().set_read_timeout(options_.heartbeat * 3 + 2000ms);
  SetClient(std::move(client));
  return Ok();
}

Status BinlogStream::Run(ChangeHandler& handler) {
  auto backoff = 100ms;
  int attempts = 0;
  if (options_.start_position && !options_.start_position->empty()) {
    SCION_ASSIGN_OR_RETURN(position_, ParseGtidPosition(*options_.start_position));
  }
  while (!stop_) {
    auto connected = Connect();
    Status result = connected;
    bool handler_stop = false;
    if (connected) {
      attempts = 0;
      backoff = 100ms;
      result = Stream(handler, &handler_stop);
    }
    SetClient(nullptr);
    if (stop_ || handler_stop) return Ok();
    if (result) continue;  // the server ended the stream: reconnect
    if (result.error().code != ErrorCode::kBackendUnavailable) return result;
    if (options_.max_reconnect_attempts >= 0 && attempts >= options_.max_reconnect_attempts) return result;
    ++attempts;
    ++stats_.reconnects;
    spdlog::warn("msg=\"binlog stream lost; reconnecting\" endpoint={} error={} backoff_ms={}",
                 log::Quote(options_.endpoint), log::Quote(result.error().message), backoff.count());
    // A transaction cut in the middle is replayed from its start: skip the rows already seen.
    if (current_) {
      replaying_gtid_ = current_->gtid;
      skip_rows_ = delivered_in_tx_;
    }
    // Wait, asking the handler now and then whether anyone still wants the stream (a client
    // that went away, a server shutting down).
    auto deadline = std::chrono::steady_clock::now() + backoff;
    auto next_idle = std::chrono::steady_clock::now();
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      if (std::chrono::steady_clock::now() >= next_idle) {
        if (!handler.OnIdle()) return Ok();
        next_idle += options_.heartbeat;
      }
      std::this_thread::sleep_for(20ms);
    }
    backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_backoff));
  }
  return Ok();
}

Status BinlogStream::Stream(ChangeHandler& handler, bool* stop_requested) {
  while (!stop_) {
    auto packet = client_->ReadPacket();
    if (!packet) {
      if (stop_) return Ok();
      return std::unexpected(packet.error());
    }
    if (packet->empty()) return MakeError(ErrorCode::kProtocol, "empty packet in the binlog stream");
    auto marker = static_cast<std::uint8_t>((*packet)[0]);
    if (marker == 0xff) {
      mysql::ServerError err;
      mysql::ParseErrPacket(*packet, &err);
      if (err.code == kErrMasterFatalReadingBinlog && err.message.find("GTID") != std::string::npos) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         fmt::format("the binlog no longer holds position {} (purged or never written): {}",
                                     FormatGtidPosition(position_), err.message),
                         "start from the current position instead (omit --from-gtid), or from a newer GTID");
      }
      return std::unexpected(mysql::ToError(err));
    }
    if (marker == 0xfe && packet->size() < 9) return Ok();  // end of stream
    if (marker != 0x00) return MakeError(ErrorCode::kProtocol, "unexpected packet in the binlog stream");
    bool keep_going = true;
    SCION_TRY(HandleEvent(std::string_view(*packet).substr(1), handler, &keep_going));
    if (!keep_going) {
      *stop_requested = true;
      return Ok();
    }
  }
  return Ok();
}

bool BinlogStream::Wanted(const TableMap& t) const {
  if (!options_.schemas.empty() && !options_.schemas.count(t.schema)) return false;
  if (options_.tables.empty()) return true;
  return options_.tables.count(t.table) || options_.tables.count(t.schema + "." + t.table);
}

Status BinlogStream::HandleEvent(std::string_view event, ChangeHandler& handler, bool* keep_going) {
  SCION_ASSIGN_OR_RETURN(auto header, ParseHeader(event));
  SCION_ASSIGN_OR_RETURN(auto body, EventBody(event, checksums_));
  ++stats_.events;
  auto commit = [&](std::uint32_t timestamp) {
    if (!current_) return;
    position_[current_gtid_.domain] = current_gtid_;
    ++stats_.transactions;
    TransactionInfo done = *current_;
    done.timestamp = timestamp ? timestamp : done.timestamp;
    bool replayed = replaying_gtid_ && *replaying_gtid_ == current_->gtid;
    current_.reset();
    tables_.clear();  // every transaction maps its tables again; keeps the cache bounded
    delivered_in_tx_ = 0;
    if (replayed) replaying_gtid_.reset();
    *keep_going = handler.OnCommit(done, FormatGtidPosition(position_));
  };
  switch (header.type) {
    case kGtidEvent: {
      SCION_ASSIGN_OR_RETURN(auto g, ParseGtidEvent(header, body));
      bool replay = replaying_gtid_ && *replaying_gtid_ == g.gtid.ToString();
      if (replaying_gtid_ && !replay) {
        // The interrupted transaction did not come back (it was never committed): forget it.
        replaying_gtid_.reset();
        skip_rows_ = 0;
      }
      current_ = TransactionInfo{g.gtid.ToString(), header.timestamp};
      current_gtid_ = g.gtid;
      current_standalone_ = g.standalone;
      seen_in_tx_ = 0;
      delivered_in_tx_ = replay ? skip_rows_ : 0;
      if (!replay) *keep_going = handler.OnBegin(*current_);
      break;
    }
    case kTableMapEvent: {
      SCION_ASSIGN_OR_RETURN(auto t, ParseTableMap(body));
      tables_[t->table_id] = std::move(t);
      break;
    }
    case kWriteRowsV1: case kUpdateRowsV1: case kDeleteRowsV1:
    case kWriteRowsV2: case kUpdateRowsV2: case kDeleteRowsV2: {
      SCION_ASSIGN_OR_RETURN(auto info, ParseRowsHeader(header.type, body));
      auto it = tables_.find(info.table_id);
      if (it == tables_.end()) {
        return MakeError(ErrorCode::kProtocol, fmt::format("rows event for unknown table id {}", info.table_id));
      }
      const TableMap& table = *it->second;
      if (!Wanted(table) || !current_) {
        // Filtered out: neither delivered nor counted, the same way on a replay.
        break;
      }
      Status st = DecodeRows(header.type, body, table, [&](const std::vector<Value>& before,
                                                            const std::vector<Value>& after) {
        ++seen_in_tx_;
        if (!*keep_going || seen_in_tx_ <= delivered_in_tx_) return;  // already delivered before a reconnect
        ++delivered_in_tx_;
        ++stats_.rows;
        RowChange change{&*current_, &table, info.op, &before, &after};
        *keep_going = handler.OnRow(change);
      });
      SCION_TRY(st);
      break;
    }
    case kXidEvent: commit(header.timestamp); break;
    case kQueryEvent: {
      SCION_ASSIGN_OR_RETURN(auto q, ParseQueryEvent(body));
      if (q.sql == "COMMIT") {
        commit(header.timestamp);
      } else if (q.sql == "ROLLBACK") {
        current_.reset();
      } else if (!IsTransactionControl(q.sql)) {
        bool wanted = options_.schemas.empty() || options_.schemas.count(q.schema);
        if (current_ && wanted) {
          // Counted like rows, so a replay after a reconnect delivers it exactly once.
          ++seen_in_tx_;
          if (seen_in_tx_ > delivered_in_tx_) {
            ++delivered_in_tx_;
            *keep_going = handler.OnDdl(DdlChange{&*current_, q.schema, q.sql});
          }
        }
        if (current_standalone_ && *keep_going) commit(header.timestamp);
      }
      break;
    }
    case kHeartbeatEvent: *keep_going = handler.OnIdle(); break;
    case kGtidListEvent: case kRotateEvent: case kFormatDescriptionEvent: case kBinlogCheckpointEvent:
    case kAnnotateRowsEvent: case kStopEvent:
      break;
    case kWriteRowsCompressedV1: case kUpdateRowsCompressedV1: case kDeleteRowsCompressedV1:
    case kQueryCompressedEvent:
      return MakeError(ErrorCode::kFailedPrecondition, "compressed binlog events are not supported",
                       "turn off log_bin_compress on the instance");
    default:
      break;
  }
  return Ok();
}

}  // namespace scion::binlog
