// Decoded column values of row events.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace scion::binlog {

enum class ValueKind : std::uint8_t {
  kNull,
  kInt,        // i: TINYINT..BIGINT signed, YEAR
  kUint,       // u: unsigned integers, BIT
  kFloat,      // d: FLOAT (held as the float's exact double value)
  kDouble,     // d
  kDecimal,    // s: exact decimal text, e.g. "-12.50"
  kDate,       // s: "2024-01-31"
  kTime,       // s: "-838:59:59.000000"
  kDateTime,   // s: "2024-01-31 23:59:59.123"
  kTimestamp,  // s: UTC, "2024-01-31 23:59:59.123456"
  kText,       // s: bytes of a character column (its charset)
  kBytes,      // s: bytes of a binary column (BINARY, VARBINARY, BLOB, GEOMETRY)
  kEnum,       // s: the label
  kSet,        // s: comma-joined labels
};

struct Value {
  ValueKind kind = ValueKind::kNull;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double d = 0;
  std::string s;

  bool is_null() const { return kind == ValueKind::kNull; }

  // One canonical text per value, comparable with what SELECT shows: integers and decimals in
  // base 10, FLOAT/DOUBLE in shortest round-trip form, temporal values as MariaDB prints them
  // (TIMESTAMP in UTC), text as its bytes, binary as uppercase hex (like HEX()), NULL as "NULL".
  std::string ToCanonical() const;

  // JSON: numbers for integers and floating point, strings for decimals, temporal values, text,
  // enum and set labels; binary as base64; null.
  nlohmann::json ToJson() const;
};

std::string Base64(std::string_view bytes);

}  // namespace scion::binlog
