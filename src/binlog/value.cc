#include "binlog/value.h"

#include <charconv>

#include "mysql/protocol.h"

namespace scion::binlog {
namespace {

std::string ShortestFloat(double d, bool is_float) {
  char buf[64];
  auto res = is_float ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(d))
                      : std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, res.ptr);
}

std::string UpperHex(std::string_view bytes) {
  std::string h = mysql::HexBytes(bytes);
  for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return h;
}

}  // namespace

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Value::ToCanonical() const {
  switch (kind) {
    case ValueKind::kNull: return "NULL";
    case ValueKind::kInt: return std::to_string(i);
    case ValueKind::kUint: return std::to_string(u);
    case ValueKind::kFloat: return ShortestFloat(d, true);
    case ValueKind::kDouble: return ShortestFloat(d, false);
    case ValueKind::kBytes: return UpperHex(s);
    default: return s;
  }
}

nlohmann::json Value::ToJson() const {
  switch (kind) {
    case ValueKind::kNull: return nullptr;
    case ValueKind::kInt: return i;
    case ValueKind::kUint: return u;
    case ValueKind::kFloat: return std::stod(ShortestFloat(d, true));  // 1.1f prints as 1.1
    case ValueKind::kDouble: return d;
    case ValueKind::kBytes: return Base64(s);
    default: return s;
  }
}

}  // namespace scion::binlog
