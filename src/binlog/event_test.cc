#include "binlog/event.h"

#include <gtest/gtest.h>

#include "binlog/stream.h"
#include "mysql/wire.h"

namespace scion::binlog {
namespace {

TEST(GtidTest, ParsesAndFormatsPositions) {
  auto p = ParseGtidPosition("0-101-57,1-7-3");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->at(0).seq, 57u);
  EXPECT_EQ(p->at(1).server_id, 7u);
  EXPECT_EQ(FormatGtidPosition(*p), "0-101-57,1-7-3");
  EXPECT_TRUE(ParseGtidPosition("")->empty());
  for (const char* bad : {"x", "0-1", "0-1-", "a-b-c", "0-1-2-3"}) {
    EXPECT_FALSE(ParseGtidPosition(bad)) << bad;
  }
}

TEST(ChecksumTest, Crc32MatchesZlibVector) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
}

TEST(EventTest, BodyChecksumIsVerified) {
  mysql::ByteWriter w;
  w.U32(1);        // timestamp
  w.U8(kXidEvent);
  w.U32(7);        // server id
  w.U32(19 + 8 + 4);
  w.U32(0);
  w.U16(0);
  w.UintLE(42, 8);  // xid
  std::string ev = w.str();
  std::uint32_t crc = Crc32(ev);
  mysql::ByteWriter c;
  c.U32(crc);
  ev += c.str();
  auto h = ParseHeader(ev);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, kXidEvent);
  EXPECT_EQ(h->server_id, 7u);
  auto body = EventBody(ev, true);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->size(), 8u);
  ev[20] ^= 1;
  auto bad = EventBody(ev, true);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("checksum"), std::string::npos);
  EXPECT_FALSE(ParseHeader(std::string_view(ev).substr(0, 10)));
}

// A one-column table map for decoding single values.
TableMap OneColumn(std::uint8_t type, std::uint16_t meta, bool is_unsigned = false) {
  TableMap t;
  Column c;
  c.name = "c";
  c.type = type;
  c.meta = meta;
  c.is_unsigned = is_unsigned;
  t.columns.push_back(c);
  return t;
}

Value DecodeOne(const TableMap& t, std::string_view encoded) {
  std::string row = std::string(1, '\0') + std::string(encoded);  // null bitmap: not null
  std::size_t pos = 0;
  std::vector<Value> out;
  auto st = DecodeImage(row, &pos, t, {true}, &out);
  EXPECT_TRUE(st) << st.error().message;
  EXPECT_EQ(pos, row.size());
  return out.empty() ? Value{} : out[0];
}

TEST(DecodeTest, DecimalsOfEveryShape) {
  // DECIMAL(10,4) 1234.5678 and -1234.5678 (bytes as MariaDB writes them).
  auto t = OneColumn(kTypeNewDecimal, (10 << 8) | 4);
  EXPECT_EQ(DecodeOne(t, std::string("\x80\x04\xd2\x16\x2e", 5)).ToCanonical(), "1234.5678");
  EXPECT_EQ(DecodeOne(t, std::string("\x7f\xfb\x2d\xe9\xd1", 5)).ToCanonical(), "-1234.5678");
  EXPECT_EQ(DecodeOne(t, std::string("\x80\x00\x00\x00\x00", 5)).ToCanonical(), "0.0000");
  // DECIMAL(5,0) 99999.
  auto i = OneColumn(kTypeNewDecimal, (5 << 8) | 0);
  EXPECT_EQ(DecodeOne(i, std::string("\x81\x86\x9f", 3)).ToCanonical(), "99999");
}

TEST(DecodeTest, TruncatedValueIsAnErrorNotACrash) {
  auto t = OneColumn(kTypeLongLong, 0);
  std::string row = std::string(1, '\0') + "abc";
  std::size_t pos = 0;
  std::vector<Value> out;
  EXPECT_FALSE(DecodeImage(row, &pos, t, {true}, &out));
  auto blob = OneColumn(kTypeBlob, 4);
  std::string big = std::string(1, '\0') + std::string("\xff\xff\xff\x7f", 4) + "x";
  pos = 0;
  EXPECT_FALSE(DecodeImage(big, &pos, blob, {true}, &out));
}

TEST(DecodeTest, IntegersHonourSignedness) {
  EXPECT_EQ(DecodeOne(OneColumn(kTypeTiny, 0), "\xff").ToCanonical(), "-1");
  EXPECT_EQ(DecodeOne(OneColumn(kTypeTiny, 0, true), "\xff").ToCanonical(), "255");
  EXPECT_EQ(DecodeOne(OneColumn(kTypeInt24, 0), std::string("\xff\xff\xff", 3)).ToCanonical(), "-1");
  EXPECT_EQ(DecodeOne(OneColumn(kTypeLongLong, 0, true), std::string(8, '\xff')).ToCanonical(),
            "18446744073709551615");
}

TEST(ValueTest, JsonAndBase64) {
  EXPECT_EQ(Base64("hello"), "aGVsbG8=");
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("ab"), "YWI=");
  Value v;
  v.kind = ValueKind::kFloat;
  v.d = 1.1f;
  EXPECT_EQ(v.ToJson().dump(), "1.1");
  EXPECT_EQ(v.ToCanonical(), "1.1");
  v.kind = ValueKind::kBytes;
  v.s = std::string("\x00\xff", 2);
  EXPECT_EQ(v.ToCanonical(), "00FF");
  EXPECT_EQ(v.ToJson(), "AP8=");
}

}  // namespace
}  // namespace scion::binlog
