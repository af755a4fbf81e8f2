#include "binlog/event.h"

#include <zlib.h>

#include <cstring>

#include <fmt/format.h>

#include "mysql/wire.h"

namespace scion::binlog {
using mysql::ByteReader;

namespace {

std::unexpected<Error> Malformed(std::string_view what) {
  return MakeError(ErrorCode::kProtocol, fmt::format("malformed binlog event: {}", what));
}

constexpr std::uint32_t kCollationBinary = 63;

bool IsNumeric(std::uint8_t t) {
  switch (t) {
    case kTypeTiny: case kTypeShort: case kTypeInt24: case kTypeLong: case kTypeLongLong:
    case kTypeFloat: case kTypeDouble: case kTypeNewDecimal: case kTypeDecimal:
    case kTypeYear:  // MariaDB's YEAR is a TINYINT underneath and takes a signedness bit
      return true;
    default:
      return false;
  }
}

bool IsCharacter(std::uint8_t real_type) {
  switch (real_type) {
    case kTypeString: case kTypeVarString: case kTypeVarchar: case kTypeBlob:
    case kTypeTinyBlob: case kTypeMediumBlob: case kTypeLongBlob: case kTypeJson:
    case kTypeBlobCompressed: case kTypeVarcharCompressed:
      return true;
    default:
      return false;
  }
}

bool IsEnumOrSet(std::uint8_t real_type) { return real_type == kTypeEnum || real_type == kTypeSet; }

// Reads the per-type metadata of column `c` from the table map's metadata block.
void ReadColumnMeta(ByteReader& r, Column& c) {
  switch (c.type) {
    case kTypeFloat: case kTypeDouble: case kTypeBlob: case kTypeGeometry: case kTypeJson:
    case kTypeTimestamp2: case kTypeDateTime2: case kTypeTime2: case kTypeBlobCompressed:
    case kTypeTinyBlob: case kTypeMediumBlob: case kTypeLongBlob:
      c.meta = r.U8();
      break;
    case kTypeVarchar: case kTypeVarString: case kTypeVarcharCompressed:
      c.meta = r.U16();
      c.max_length = c.meta;
      break;
    case kTypeBit: case kTypeNewDecimal:
      // BIT: (bits in last byte, bytes); NEWDECIMAL: (precision, scale). First byte first.
      c.meta = static_cast<std::uint16_t>(r.U8() << 8);
      c.meta |= r.U8();
      break;
    case kTypeString: case kTypeEnum: case kTypeSet: {
      std::uint8_t b0 = r.U8(), b1 = r.U8();
      // The real type's two high bits may carry bits 8-9 of the length (CHAR(n) > 255 bytes).
      if ((b0 & 0x30) != 0x30) {
        c.max_length = (((b0 & 0x30) ^ 0x30) << 4) | b1;
        b0 |= 0x30;
      } else {
        c.max_length = b1;
      }
      c.type = b0;
      c.meta = b1;
      break;
    }
    default:
      break;
  }
}

void ReadLabels(ByteReader& r, std::vector<Column>& cols, std::uint8_t real_type) {
  for (auto& c : cols) {
    if (!r.ok() || r.empty()) return;
    if (c.type != real_type) continue;
    std::uint64_t n = r.LenencInt();
    for (std::uint64_t i = 0; i < n && r.ok(); ++i) c.labels.emplace_back(r.LenencString());
  }
}

// Applies DEFAULT_CHARSET-style metadata (default collation + (index, collation) pairs) or
// COLUMN_CHARSET-style (one collation per matching column) to the columns matching `match`.
template <typename Match>
void ReadCharsets(ByteReader& r, std::vector<Column>& cols, bool with_default, Match match) {
  std::vector<Column*> matching;
  for (auto& c : cols) {
    if (match(c)) matching.push_back(&c);
  }
  if (with_default) {
    std::uint32_t def = static_cast<std::uint32_t>(r.LenencInt());
    for (auto* c : matching) c->collation = def;
    while (r.ok() && !r.empty()) {
      std::uint64_t idx = r.LenencInt();
      std::uint32_t coll = static_cast<std::uint32_t>(r.LenencInt());
      if (idx < matching.size()) matching[idx]->collation = coll;
    }
  } else {
    for (auto* c : matching) {
      if (!r.ok() || r.empty()) break;
      c->collation = static_cast<std::uint32_t>(r.LenencInt());
    }
  }
}

}  // namespace

std::string Gtid::ToString() const { return fmt::format("{}-{}-{}", domain, server_id, seq); }

std::string_view RowOpName(RowOp op) {
  switch (op) {
    case RowOp::kInsert: return "insert";
    case RowOp::kUpdate: return "update";
    case RowOp::kDelete: return "delete";
  }
  return "?";
}

Result<EventHeader> ParseHeader(std::string_view event) {
  if (event.size() < kEventHeaderSize) return Malformed("shorter than its header");
  ByteReader r(event);
  EventHeader h;
  h.timestamp = r.U32();
  h.type = r.U8();
  h.server_id = r.U32();
  h.event_size = r.U32();
  h.log_pos = r.U32();
  h.flags = r.U16();
  if (h.event_size != event.size()) {
    return Malformed(fmt::format("size {} in header, {} received", h.event_size, event.size()));
  }
  return h;
}

std::uint32_t Crc32(std::string_view data) {
  return static_cast<std::uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

Result<std::string_view> EventBody(std::string_view event, bool checksums) {
  if (event.size() < kEventHeaderSize + (checksums ? 4 : 0)) return Malformed("too short");
  if (!checksums) return event.substr(kEventHeaderSize);
  std::string_view covered = event.substr(0, event.size() - 4);
  ByteReader r(event.substr(event.size() - 4));
  std::uint32_t expected = r.U32();
  std::uint32_t actual = Crc32(covered);
  if (expected != actual) {
    return MakeError(ErrorCode::kProtocol,
                     fmt::format("binlog event checksum mismatch: {:08x} in the event, {:08x} computed", expected, actual));
  }
  return covered.substr(kEventHeaderSize);
}

Result<GtidEvent> ParseGtidEvent(const EventHeader& header, std::string_view body) {
  ByteReader r(body);
  GtidEvent g;
  g.gtid.seq = r.U64();
  g.gtid.domain = r.U32();
  std::uint8_t flags = r.U8();
  g.gtid.server_id = header.server_id;
  g.standalone = flags & 1;
  if (!r.ok()) return Malformed("GTID event");
  return g;
}

Result<QueryEvent> ParseQueryEvent(std::string_view body) {
  ByteReader r(body);
  r.Skip(4);  // thread id
  r.Skip(4);  // exec time
  std::uint8_t db_len = r.U8();
  r.Skip(2);  // error code
  std::uint16_t status_len = r.U16();
  r.Skip(status_len);
  QueryEvent q;
  q.schema = std::string(r.Bytes(db_len));
  r.Skip(1);
  q.sql = std::string(r.Rest());
  if (!r.ok()) return Malformed("QUERY event");
  return q;
}

Result<std::shared_ptr<const TableMap>> ParseTableMap(std::string_view body) {
  ByteReader r(body);
  auto t = std::make_shared<TableMap>();
  t->table_id = r.UintLE(6);
  r.Skip(2);
  std::uint8_t len = r.U8();
  t->schema = std::string(r.Bytes(len));
  r.Skip(1);
  len = r.U8();
  t->table = std::string(r.Bytes(len));
  r.Skip(1);
  std::uint64_t ncols = r.LenencInt();
  if (!r.ok() || ncols > 4096) return Malformed("TABLE_MAP header");
  t->columns.resize(ncols);
  auto types = r.Bytes(ncols);
  for (std::size_t i = 0; i < ncols && r.ok(); ++i) t->columns[i].type = static_cast<std::uint8_t>(types[i]);
  std::uint64_t meta_len = r.LenencInt();
  ByteReader meta(r.Bytes(meta_len));
  for (auto& c : t->columns) ReadColumnMeta(meta, c);
  if (!meta.ok()) return Malformed("TABLE_MAP column metadata");
  for (const auto& c : t->columns) {
    bool temporal = c.type == kTypeTime2 || c.type == kTypeDateTime2 || c.type == kTypeTimestamp2;
    if (temporal && c.meta > 6) return Malformed("fractional seconds precision above 6");
  }
  auto nulls = r.Bytes((ncols + 7) / 8);
  for (std::size_t i = 0; i < ncols && r.ok(); ++i) {
    t->columns[i].nullable = (static_cast<std::uint8_t>(nulls[i / 8]) >> (i % 8)) & 1;
  }
  if (!r.ok()) return Malformed("TABLE_MAP null bitmap");
  // Optional metadata: type, length, value.
  while (!r.empty()) {
    std::uint8_t kind = r.U8();
    ByteReader v(r.LenencString());
    if (!r.ok()) return Malformed("TABLE_MAP optional metadata");
    switch (kind) {
      case 1: {  // SIGNEDNESS: one bit per numeric column, most significant bit first
        std::size_t k = 0;
        std::string_view bits = v.Rest();
        for (auto& c : t->columns) {
          if (!IsNumeric(c.type)) continue;
          if (k / 8 < bits.size()) c.is_unsigned = (static_cast<std::uint8_t>(bits[k / 8]) >> (7 - k % 8)) & 1;
          ++k;
        }
        break;
      }
      case 2: ReadCharsets(v, t->columns, true, [](const Column& c) { return IsCharacter(c.type); }); break;
      case 3: ReadCharsets(v, t->columns, false, [](const Column& c) { return IsCharacter(c.type); }); break;
      case 4:
        for (auto& c : t->columns) c.name = std::string(v.LenencString());
        break;
      case 5: ReadLabels(v, t->columns, kTypeSet); break;
      case 6: ReadLabels(v, t->columns, kTypeEnum); break;
      case 8:
        while (v.ok() && !v.empty()) t->primary_key.push_back(static_cast<std::uint32_t>(v.LenencInt()));
        break;
      case 9:
        while (v.ok() && !v.empty()) {
          t->primary_key.push_back(static_cast<std::uint32_t>(v.LenencInt()));
          v.LenencInt();  // prefix length
        }
        break;
      case 10: ReadCharsets(v, t->columns, true, [](const Column& c) { return IsEnumOrSet(c.type); }); break;
      case 11: ReadCharsets(v, t->columns, false, [](const Column& c) { return IsEnumOrSet(c.type); }); break;
      default: break;  // geometry types and future additions
    }
  }
  for (auto& c : t->columns) {
    c.binary = (c.type == kTypeGeometry) || (IsCharacter(c.type) && c.collation == kCollationBinary);
  }
  return std::shared_ptr<const TableMap>(std::move(t));
}

Result<RowsEventInfo> ParseRowsHeader(std::uint8_t type, std::string_view body) {
  ByteReader r(body);
  RowsEventInfo info;
  info.table_id = r.UintLE(6);
  info.flags = r.U16();
  switch (type) {
    case kWriteRowsV1: case kWriteRowsV2: info.op = RowOp::kInsert; break;
    case kUpdateRowsV1: case kUpdateRowsV2: info.op = RowOp::kUpdate; break;
    case kDeleteRowsV1: case kDeleteRowsV2: info.op = RowOp::kDelete; break;
    default: return Malformed(fmt::format("event type {} is not a rows event", type));
  }
  if (!r.ok()) return Malformed("rows event header");
  return info;
}

Result<std::size_t> RowsPreamble(std::uint8_t type, std::string_view body, std::size_t ncols,
                                 std::vector<bool>* present_before, std::vector<bool>* present_after) {
  ByteReader r(body);
  r.Skip(8);
  if (type == kWriteRowsV2 || type == kUpdateRowsV2 || type == kDeleteRowsV2) {
    std::uint16_t extra = r.U16();
    r.Skip(extra >= 2 ? extra - 2 : 0);
  }
  std::uint64_t width = r.LenencInt();
  if (!r.ok() || width != ncols) {
    return Malformed(fmt::format("rows event has {} columns, its table map {}", width, ncols));
  }
  auto read_bitmap = [&](std::vector<bool>* out) {
    auto bits = r.Bytes((width + 7) / 8);
    out->assign(width, false);
    for (std::size_t i = 0; i < width && r.ok(); ++i) (*out)[i] = (static_cast<std::uint8_t>(bits[i / 8]) >> (i % 8)) & 1;
  };
  read_bitmap(present_before);
  if (type == kUpdateRowsV1 || type == kUpdateRowsV2) {
    read_bitmap(present_after);
  } else {
    *present_after = *present_before;
  }
  if (!r.ok()) return Malformed("rows event bitmaps");
  return r.position();
}

}  // namespace scion::binlog
