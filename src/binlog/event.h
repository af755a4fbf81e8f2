// Binlog events as MariaDB 10.11 writes them: header, checksum, and the event bodies the
// change stream needs (format description, rotate, GTID, GTID list, query, XID, table map,
// row events).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "binlog/value.h"

namespace scion::binlog {

enum EventType : std::uint8_t {
  kQueryEvent = 2,
  kStopEvent = 3,
  kRotateEvent = 4,
  kXidEvent = 16,
  kFormatDescriptionEvent = 15,
  kTableMapEvent = 19,
  kWriteRowsV1 = 23,
  kUpdateRowsV1 = 24,
  kDeleteRowsV1 = 25,
  kHeartbeatEvent = 27,
  kWriteRowsV2 = 30,
  kUpdateRowsV2 = 31,
  kDeleteRowsV2 = 32,
  kAnnotateRowsEvent = 160,
  kBinlogCheckpointEvent = 161,
  kGtidEvent = 162,
  kGtidListEvent = 163,
  kStartEncryptionEvent = 164,
  kQueryCompressedEvent = 165,
  kWriteRowsCompressedV1 = 169,
  kUpdateRowsCompressedV1 = 170,
  kDeleteRowsCompressedV1 = 171,
};

inline constexpr std::size_t kEventHeaderSize = 19;

struct EventHeader {
  std::uint32_t timestamp = 0;
  std::uint8_t type = 0;
  std::uint32_t server_id = 0;
  std::uint32_t event_size = 0;
  std::uint32_t log_pos = 0;
  std::uint16_t flags = 0;
};

// Parses the 19-byte header of `event` (the whole event, header included).
Result<EventHeader> ParseHeader(std::string_view event);

// CRC32 (zlib's polynomial) of `data`.
std::uint32_t Crc32(std::string_view data);

// Checks the trailing CRC32 of `event` when `checksums` is true; returns the body (after the
// header, before the checksum).
Result<std::string_view> EventBody(std::string_view event, bool checksums);

// A MariaDB GTID: domain-server-sequence.
struct Gtid {
  std::uint32_t domain = 0;
  std::uint32_t server_id = 0;
  std::uint64_t seq = 0;
  std::string ToString() const;
};

struct GtidEvent {
  Gtid gtid;
  bool standalone = false;  // no BEGIN/COMMIT: a DDL or other self-committing statement
};
Result<GtidEvent> ParseGtidEvent(const EventHeader& header, std::string_view body);

struct QueryEvent {
  std::string schema;
  std::string sql;
};
Result<QueryEvent> ParseQueryEvent(std::string_view body);

// Column types as the binlog writes them.
enum ColumnType : std::uint8_t {
  kTypeDecimal = 0,
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,
  kTypeDateTime = 12,
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeTimestamp2 = 17,
  kTypeDateTime2 = 18,
  kTypeTime2 = 19,
  kTypeBlobCompressed = 140,
  kTypeVarcharCompressed = 141,
  kTypeJson = 245,
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,
  kTypeGeometry = 255,
};

struct Column {
  std::string name;          // from the optional metadata (binlog_row_metadata=FULL); "" if absent
  std::uint8_t type = 0;     // binlog type; for kTypeString the real type (STRING, ENUM, SET)
  std::uint16_t meta = 0;    // type metadata, decoded per type
  std::uint32_t max_length = 0;  // CHAR/BINARY: maximum bytes
  bool nullable = true;
  bool is_unsigned = false;
  bool binary = false;       // character data with the binary charset (63)
  std::uint32_t collation = 0;
  std::vector<std::string> labels;  // ENUM/SET values
};

struct TableMap {
  std::uint64_t table_id = 0;
  std::string schema;
  std::string table;
  std::vector<Column> columns;
  std::vector<std::uint32_t> primary_key;  // column indexes, when the metadata carries them
};
Result<std::shared_ptr<const TableMap>> ParseTableMap(std::string_view body);

enum class RowOp { kInsert, kUpdate, kDelete };
std::string_view RowOpName(RowOp op);

// Decodes a rows event body for `table` (which must be the table map of the event's table id),
// calling `on_row(before, after)` per row; absent images are empty vectors. Values of columns
// missing from the image are NULL.
struct RowsEventInfo {
  std::uint64_t table_id = 0;
  std::uint16_t flags = 0;
  RowOp op = RowOp::kInsert;
  bool end_of_statement() const { return flags & 1; }
};
Result<RowsEventInfo> ParseRowsHeader(std::uint8_t type, std::string_view body);

template <typename F>
Status DecodeRows(std::uint8_t type, std::string_view body, const TableMap& table, F&& on_row);

// Implementation detail of DecodeRows: decodes one row image at `*pos`.
Status DecodeImage(std::string_view data, std::size_t* pos, const TableMap& table, const std::vector<bool>& present,
                   std::vector<Value>* out);
// Splits a rows event body into its column count and present bitmaps; returns the offset of the
// first row.
Result<std::size_t> RowsPreamble(std::uint8_t type, std::string_view body, std::size_t ncols,
                                 std::vector<bool>* present_before, std::vector<bool>* present_after);

template <typename F>
Status DecodeRows(std::uint8_t type, std::string_view body, const TableMap& table, F&& on_row) {
  SCION_ASSIGN_OR_RETURN(auto info, ParseRowsHeader(type, body));
  std::vector<bool> before_cols, after_cols;
  SCION_ASSIGN_OR_RETURN(std::size_t pos, RowsPreamble(type, body, table.columns.size(), &before_cols, &after_cols));
  std::vector<Value> before, after;
  while (pos < body.size()) {
    std::size_t row_start = pos;
    before.clear();
    after.clear();
    if (info.op == RowOp::kInsert) {
      SCION_TRY(DecodeImage(body, &pos, table, before_cols, &after));
    } else if (info.op == RowOp::kDelete) {
      SCION_TRY(DecodeImage(body, &pos, table, before_cols, &before));
    } else {
      SCION_TRY(DecodeImage(body, &pos, table, before_cols, &before));
      SCION_TRY(DecodeImage(body, &pos, table, after_cols, &after));
    }
    if (pos == row_start) return MakeError(ErrorCode::kProtocol, "malformed binlog row: empty row image");
    on_row(before, after);
  }
  return Ok();
}

}  // namespace scion::binlog
