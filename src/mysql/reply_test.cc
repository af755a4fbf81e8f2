#include "mysql/reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mysql/protocol.h"
#include "mysql/server_handshake.h"

namespace scion::mysql {
namespace {

std::string Eof(std::uint16_t status) { return std::string("\xfe\x00\x00", 3) + char(status & 0xff) + char(status >> 8); }
std::string OkEof(std::uint16_t status) {  // the OK that replaces EOF under CLIENT_DEPRECATE_EOF
  std::string ok = BuildOk(0, 0, status);
  ok[0] = static_cast<char>(0xfe);
  return ok;
}
std::string ColumnCount(int n) { return std::string(1, static_cast<char>(n)); }
const std::string kColumnDef = std::string("\x03" "def", 4) + std::string(40, 'x');
const std::string kRow = "\x01" "1";

// Feeds packets; returns the index of the packet that ended the reply, or -1.
int Feed(ReplyTracker& t, const std::vector<std::string>& packets) {
  for (std::size_t i = 0; i < packets.size(); ++i) {
    auto r = t.OnPacket(std::string_view(packets[i]).substr(0, 32), packets[i].size());
    EXPECT_TRUE(r.has_value()) << i;
    if (r && *r) return static_cast<int>(i);
  }
  return -1;
}

TEST(ReplyTrackerTest, ResultSetWithEof) {
  ReplyTracker t(ReplyKind::kResultSet, false);
  EXPECT_EQ(Feed(t, {ColumnCount(2), kColumnDef, kColumnDef, Eof(2), kRow, kRow, kRow, Eof(2)}), 7);
  EXPECT_EQ(t.rows(), 3u);
  EXPECT_FALSE(t.error());
}

TEST(ReplyTrackerTest, ResultSetWithDeprecateEof) {
  ReplyTracker t(ReplyKind::kResultSet, true);
  EXPECT_EQ(Feed(t, {ColumnCount(1), kColumnDef, kRow, OkEof(2)}), 3);
  EXPECT_EQ(t.rows(), 1u);
}

TEST(ReplyTrackerTest, MultiResultsFollowMoreResultsFlag) {
  ReplyTracker t(ReplyKind::kResultSet, false);
  std::uint16_t more = kServerStatusAutocommit | kServerMoreResultsExist;
  EXPECT_EQ(Feed(t, {BuildOk(1, 0, more), ColumnCount(1), kColumnDef, Eof(2), kRow, Eof(more), BuildOk(0, 0, 2)}), 6);
}

TEST(ReplyTrackerTest, ErrorEndsTheReplyAnywhere) {
  ReplyTracker t(ReplyKind::kResultSet, false);
  EXPECT_EQ(Feed(t, {ColumnCount(1), kColumnDef, Eof(2), kRow, BuildErr(1317, "70100", "interrupted")}), 4);
  EXPECT_TRUE(t.error());
  ReplyTracker t2(ReplyKind::kResultSet, false);
  EXPECT_EQ(Feed(t2, {BuildErr(1146, "42S02", "no table")}), 0);
}

TEST(ReplyTrackerTest, PrepareOkWithParamsAndColumns) {
  std::string ok("\x00\x01\x00\x00\x00\x02\x00\x01\x00\x00\x00\x00", 12);  // 2 columns, 1 param
  ReplyTracker t(ReplyKind::kPrepare, false);
  EXPECT_EQ(Feed(t, {ok, kColumnDef, Eof(2), kColumnDef, kColumnDef, Eof(2)}), 5);
  ReplyTracker t2(ReplyKind::kPrepare, true);
  EXPECT_EQ(Feed(t2, {ok, kColumnDef, kColumnDef, kColumnDef}), 3);
  std::string none("\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12);
  ReplyTracker t3(ReplyKind::kPrepare, false);
  EXPECT_EQ(Feed(t3, {none}), 0);
}

TEST(ReplyTrackerTest, CursorEndsAfterColumns) {
  ReplyTracker t(ReplyKind::kResultSet, false);
  EXPECT_EQ(Feed(t, {ColumnCount(1), kColumnDef, Eof(kServerStatusAutocommit | kServerStatusCursorExists)}), 2);
}

TEST(ReplyTrackerTest, RowStartingWith0xFeIsNotATerminator) {
  ReplyTracker t(ReplyKind::kResultSet, true);
  ASSERT_TRUE(t.OnPacket(ColumnCount(1), 1).value() == false);
  ASSERT_TRUE(t.OnPacket(kColumnDef, kColumnDef.size()).value() == false);
  // A 16 MB value: its length prefix is 0xFE, the packet is at least 16 MB long.
  EXPECT_FALSE(t.OnPacket(std::string("\xfe\x00\x00\x00\x01", 5), kMaxPacketPayload).value());
  EXPECT_TRUE(t.OnPacket(OkEof(2), 7).value());
  EXPECT_EQ(t.rows(), 1u);
}

TEST(ReplyTrackerTest, FieldListAndSingle) {
  ReplyTracker f(ReplyKind::kFieldList, false);
  EXPECT_EQ(Feed(f, {kColumnDef, kColumnDef, Eof(2)}), 2);
  ReplyTracker s(ReplyKind::kSingle, false);
  EXPECT_EQ(Feed(s, {"Uptime: 5  Threads: 1"}), 0);
}

TEST(ReplyTrackerTest, RefusesLocalInfileAndJunk) {
  ReplyTracker t(ReplyKind::kResultSet, false);
  EXPECT_FALSE(t.OnPacket("\xfb/etc/passwd", 12).has_value());
  ReplyTracker t2(ReplyKind::kResultSet, false);
  ASSERT_TRUE(t2.OnPacket(ColumnCount(1), 1).has_value());
  ASSERT_TRUE(t2.OnPacket(kColumnDef, kColumnDef.size()).has_value());
  EXPECT_FALSE(t2.OnPacket(kRow, kRow.size()).has_value());  // EOF expected after columns
  ReplyTracker t3(ReplyKind::kResultSet, false);
  EXPECT_FALSE(t3.OnPacket("", 0).has_value());
}

TEST(ReplyTrackerTest, KindOfCommands) {
  EXPECT_EQ(ReplyKindOf(kComQuery), ReplyKind::kResultSet);
  EXPECT_EQ(ReplyKindOf(kComStmtExecute), ReplyKind::kResultSet);
  EXPECT_EQ(ReplyKindOf(kComStmtPrepare), ReplyKind::kPrepare);
  EXPECT_EQ(ReplyKindOf(kComStmtClose), ReplyKind::kNone);
  EXPECT_EQ(ReplyKindOf(kComPing), ReplyKind::kSingle);
}

}  // namespace
}  // namespace scion::mysql
