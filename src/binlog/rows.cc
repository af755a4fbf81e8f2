// Row image decoding: one function per column type family.
#include <ctime>
#include <cstring>

#include <fmt/format.h>

#include "binlog/event.h"
#include "mysql/wire.h"

namespace scion::binlog {
using mysql::ByteReader;

namespace {

std::unexpected<Error> Bad(const Column& c, std::string_view what) {
  return MakeError(ErrorCode::kProtocol,
                   fmt::format("malformed binlog row: column {} (type {}): {}", c.name.empty() ? "?" : c.name, c.type, what));
}

std::int64_t SignExtend(std::uint64_t v, int bytes) {
  int shift = 64 - 8 * bytes;
  return static_cast<std::int64_t>(v << shift) >> shift;
}

void Integer(ByteReader& r, const Column& c, int bytes, Value* v) {
  std::uint64_t raw = r.UintLE(bytes);
  if (c.is_unsigned) {
    v->kind = ValueKind::kUint;
    v->u = raw;
  } else {
    v->kind = ValueKind::kInt;
    v->i = SignExtend(raw, bytes);
  }
}

// Appends `frac` microseconds with `fsp` digits.
void AppendFraction(std::string& s, std::uint32_t usec, int fsp) {
  if (fsp <= 0) return;
  static constexpr std::uint32_t kDiv[] = {1000000, 100000, 10000, 1000, 100, 10, 1};
  s += fmt::format(".{:0{}}", usec / kDiv[fsp], fsp);
}

// Fractional seconds stored big-endian in (fsp+1)/2 bytes, as microseconds.
std::uint32_t Fraction(ByteReader& r, int fsp) {
  switch (fsp) {
    case 1: case 2: return static_cast<std::uint32_t>(r.UintBE(1) * 10000);
    case 3: case 4: return static_cast<std::uint32_t>(r.UintBE(2) * 100);
    case 5: case 6: return static_cast<std::uint32_t>(r.UintBE(3));
    default: return 0;
  }
}

Status Decimal(ByteReader& r, const Column& c, Value* v) {
  static constexpr int kDigitsToBytes[] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  int precision = c.meta >> 8, scale = c.meta & 0xff;
  if (precision <= 0 || precision > 65 || scale > 38 || scale > precision) return Bad(c, "decimal precision");
  int intg = precision - scale;
  int intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
  std::size_t size = intg0 * 4 + kDigitsToBytes[intg0x] + frac0 * 4 + kDigitsToBytes[frac0x];
  std::string raw(r.Bytes(size));
  if (!r.ok()) return Bad(c, "truncated decimal");
  bool negative = (static_cast<std::uint8_t>(raw[0]) & 0x80) == 0;
  raw[0] = static_cast<char>(raw[0] ^ 0x80);
  if (negative) {
    for (char& ch : raw) ch = static_cast<char>(~ch);
  }
  ByteReader d(raw);
  std::string digits_int, digits_frac;
  if (intg0x) digits_int += fmt::format("{:0{}}", d.UintBE(kDigitsToBytes[intg0x]), intg0x);
  for (int i = 0; i < intg0; ++i) digits_int += fmt::format("{:09}", d.UintBE(4));
  for (int i = 0; i < frac0; ++i) digits_frac += fmt::format("{:09}", d.UintBE(4));
  if (frac0x) digits_frac += fmt::format("{:0{}}", d.UintBE(kDigitsToBytes[frac0x]), frac0x);
  auto nz = digits_int.find_first_not_of('0');
  digits_int = nz == std::string::npos ? "0" : digits_int.substr(nz);
  v->kind = ValueKind::kDecimal;
  v->s.clear();
  bool zero = digits_int == "0" && digits_frac.find_first_not_of('0') == std::string::npos;
  if (negative && !zero) v->s += '-';
  v->s += digits_int;
  if (scale > 0) {
    v->s += '.';
    v->s += digits_frac;
  }
  return Ok();
}

void Time2(ByteReader& r, int fsp, Value* v) {
  std::int64_t packed;
  if (fsp >= 5) {
    packed = static_cast<std::int64_t>(r.UintBE(6)) - 0x800000000000LL;
  } else {
    std::int64_t intpart = static_cast<std::int64_t>(r.UintBE(3)) - 0x800000;
    std::int64_t frac = 0;
    if (fsp == 1 || fsp == 2) {
      frac = static_cast<std::int64_t>(r.UintBE(1));
      if (intpart < 0 && frac) {
        ++intpart;
        frac -= 0x100;
      }
      frac *= 10000;
    } else if (fsp == 3 || fsp == 4) {
      frac = static_cast<std::int64_t>(r.UintBE(2));
      if (intpart < 0 && frac) {
        ++intpart;
        frac -= 0x10000;
      }
      frac *= 100;
    }
    packed = intpart * (std::int64_t{1} << 24) + frac;
  }
  bool negative = packed < 0;
  if (negative) packed = -packed;
  std::int64_t hms = packed >> 24;
  auto usec = static_cast<std::uint32_t>(packed % (1 << 24));
  v->kind = ValueKind::kTime;
  v->s = fmt::format("{}{:02}:{:02}:{:02}", negative ? "-" : "", (hms >> 12) % (1 << 10), (hms >> 6) % 64, hms % 64);
  AppendFraction(v->s, usec, fsp);
}

void DateTime2(ByteReader& r, int fsp, Value* v) {
  std::int64_t intpart = static_cast<std::int64_t>(r.UintBE(5)) - 0x8000000000LL;
  std::uint32_t usec = Fraction(r, fsp);
  std::int64_t ymd = intpart >> 17, hms = intpart % (1 << 17);
  std::int64_t ym = ymd >> 5;
  v->kind = ValueKind::kDateTime;
  v->s = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", ym / 13, ym % 13, ymd % 32, hms >> 12, (hms >> 6) % 64,
                     hms % 64);
  AppendFraction(v->s, usec, fsp);
}

void FormatUnixTime(std::int64_t seconds, std::uint32_t usec, int fsp, Value* v) {
  v->kind = ValueKind::kTimestamp;
  if (seconds == 0 && usec == 0) {
    v->s = "0000-00-00 00:00:00";
  } else {
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    v->s = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  AppendFraction(v->s, usec, fsp);
}

void Bytes(std::string_view b, const Column& c, Value* v) {
  v->kind = c.binary ? ValueKind::kBytes : ValueKind::kText;
  v->s.assign(b.data(), b.size());
}

Status DecodeValue(ByteReader& r, const Column& c, Value* v) {
  switch (c.type) {
    case kTypeTiny: Integer(r, c, 1, v); break;
    case kTypeShort: Integer(r, c, 2, v); break;
    case kTypeInt24: Integer(r, c, 3, v); break;
    case kTypeLong: Integer(r, c, 4, v); break;
    case kTypeLongLong: Integer(r, c, 8, v); break;
    case kTypeYear: {
      std::uint8_t y = r.U8();
      v->kind = ValueKind::kInt;
      v->i = y == 0 ? 0 : 1900 + y;
      break;
    }
    case kTypeFloat: {
      std::uint32_t bits = r.U32();
      float f;
      std::memcpy(&f, &bits, 4);
      v->kind = ValueKind::kFloat;
      v->d = f;
      break;
    }
    case kTypeDouble: {
      std::uint64_t bits = r.U64();
      double d;
      std::memcpy(&d, &bits, 8);
      v->kind = ValueKind::kDouble;
      v->d = d;
      break;
    }
    case kTypeNewDecimal: SCION_TRY(Decimal(r, c, v)); break;
    case kTypeDate: case kTypeNewDate: {
      std::uint32_t d = r.U24();
      v->kind = ValueKind::kDate;
      v->s = fmt::format("{:04}-{:02}-{:02}", d >> 9, (d >> 5) & 15, d & 31);
      break;
    }
    case kTypeTime2: Time2(r, c.meta, v); break;
    case kTypeDateTime2: DateTime2(r, c.meta, v); break;
    case kTypeTimestamp2: {
      std::int64_t sec = static_cast<std::int64_t>(r.UintBE(4));
      std::uint32_t usec = Fraction(r, c.meta);
      FormatUnixTime(sec, usec, c.meta, v);
      break;
    }
    case kTypeTimestamp: FormatUnixTime(r.U32(), 0, 0, v); break;
    case kTypeDateTime: {
      std::uint64_t x = r.U64();  // YYYYMMDDhhmmss
      std::uint64_t date = x / 1000000, time = x % 1000000;
      v->kind = ValueKind::kDateTime;
      v->s = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", date / 10000, (date / 100) % 100, date % 100,
                         time / 10000, (time / 100) % 100, time % 100);
      break;
    }
    case kTypeTime: {
      std::int64_t x = SignExtend(r.U24(), 3);  // [-]HHMMSS
      bool neg = x < 0;
      if (neg) x = -x;
      v->kind = ValueKind::kTime;
      v->s = fmt::format("{}{:02}:{:02}:{:02}", neg ? "-" : "", x / 10000, (x / 100) % 100, x % 100);
      break;
    }
    case kTypeVarchar: case kTypeVarString: {
      std::size_t len = c.max_length > 255 ? r.U16() : r.U8();
      Bytes(r.Bytes(len), c, v);
      break;
    }
    case kTypeString: {
      std::size_t len = c.max_length > 255 ? r.U16() : r.U8();
      Bytes(r.Bytes(len), c, v);
      // BINARY(n) is stored without its trailing zero bytes; SELECT shows all n.
      if (c.binary && v->s.size() < c.max_length) v->s.append(c.max_length - v->s.size(), '\0');
      break;
    }
    case kTypeEnum: {
      std::uint64_t idx = r.UintLE(c.meta == 2 ? 2 : 1);
      v->kind = ValueKind::kEnum;
      if (idx == 0) {
        v->s.clear();
      } else if (idx <= c.labels.size()) {
        v->s = c.labels[idx - 1];
      } else {
        v->s = std::to_string(idx);  // labels unknown (binlog_row_metadata is not FULL)
      }
      break;
    }
    case kTypeSet: {
      int bytes = std::clamp<int>(c.meta, 1, 8);
      std::uint64_t mask = r.UintLE(bytes);
      v->kind = ValueKind::kSet;
      v->s.clear();
      for (std::size_t bit = 0; bit < 64; ++bit) {
        if (!(mask >> bit & 1)) continue;
        if (!v->s.empty()) v->s += ',';
        v->s += bit < c.labels.size() ? c.labels[bit] : std::to_string(bit);
      }
      break;
    }
    case kTypeBlob: case kTypeTinyBlob: case kTypeMediumBlob: case kTypeLongBlob: case kTypeJson:
    case kTypeGeometry: {
      int lb = std::clamp<int>(c.meta, 1, 4);
      std::uint64_t len = r.UintLE(lb);
      if (len > r.remaining()) return Bad(c, "value longer than the event");
      Bytes(r.Bytes(len), c, v);
      break;
    }
    case kTypeBit: {
      int bits = c.meta >> 8, bytes = c.meta & 0xff;
      int total = bytes + (bits > 0 ? 1 : 0);
      if (total < 1 || total > 8) return Bad(c, "bit width");
      v->kind = ValueKind::kUint;
      v->u = r.UintBE(total);
      break;
    }
    case kTypeNull: v->kind = ValueKind::kNull; break;
    case kTypeBlobCompressed: case kTypeVarcharCompressed:
      return Bad(c, "compressed columns are not supported by the change stream");
    default: return Bad(c, "unsupported column type");
  }
  if (!r.ok()) return Bad(c, "truncated value");
  return Ok();
}

}  // namespace

Status DecodeImage(std::string_view data, std::size_t* pos, const TableMap& table, const std::vector<bool>& present,
                   std::vector<Value>* out) {
  std::size_t n = table.columns.size();
  out->resize(n);
  std::size_t present_count = 0;
  for (bool p : present) present_count += p;
  ByteReader r(data.substr(*pos));
  std::string_view nulls = r.Bytes((present_count + 7) / 8);
  if (!r.ok()) return MakeError(ErrorCode::kProtocol, "malformed binlog row: truncated null bitmap");
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Value& v = (*out)[i];
    if (!present[i]) {
      v.kind = ValueKind::kNull;
      continue;
    }
    bool is_null = (static_cast<std::uint8_t>(nulls[k / 8]) >> (k % 8)) & 1;
    ++k;
    if (is_null) {
      v.kind = ValueKind::kNull;
      continue;
    }
    SCION_TRY(DecodeValue(r, table.columns[i], &v));
  }
  *pos += r.position();
  return Ok();
}

}  // namespace scion::binlog
