#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "mysql/packet_channel.h"
#include "mysql/protocol.h"
#include "mysql/wire.h"

namespace scion::mysql {
namespace {

TEST(WireTest, ReadsFixedAndLengthEncodedValues) {
  ByteWriter w;
  w.U8(7);
  w.U16(0x1234);
  w.UintLE(0x563412, 3);
  w.U32(0xdeadbeef);
  w.LenencInt(250);
  w.LenencInt(251);
  w.LenencInt(70000);
  w.LenencInt(1ull << 40);
  w.LenencString("hello");
  w.NulString("nul");
  ByteReader r(w.str());
  EXPECT_EQ(r.U8(), 7);
  EXPECT_EQ(r.U16(), 0x1234);
  EXPECT_EQ(r.U24(), 0x563412u);
  EXPECT_EQ(r.U32(), 0xdeadbeefu);
  EXPECT_EQ(r.LenencInt(), 250u);
  EXPECT_EQ(r.LenencInt(), 251u);
  EXPECT_EQ(r.LenencInt(), 70000u);
  EXPECT_EQ(r.LenencInt(), 1ull << 40);
  EXPECT_EQ(r.LenencString(), "hello");
  EXPECT_EQ(r.NulString(), "nul");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.empty());
}

TEST(WireTest, OverrunIsStickyNotACrash) {
  ByteReader r(std::string_view("\x05\x01", 2));
  EXPECT_EQ(r.LenencString(), "");  // claims 5 bytes, has 1
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.U32(), 0u);
  ByteReader n(std::string_view("abc", 3));
  n.NulString();
  EXPECT_FALSE(n.ok());
  ByteReader bad(std::string_view("\xff", 1));
  bad.LenencInt();
  EXPECT_FALSE(bad.ok());
  ByteReader null_marker(std::string_view("\xfb", 1));
  bool is_null = false;
  null_marker.LenencString(&is_null);
  EXPECT_TRUE(is_null);
  EXPECT_TRUE(null_marker.ok());
}

TEST(WireTest, BigEndian) {
  ByteReader r(std::string_view("\x01\x02\x03", 3));
  EXPECT_EQ(r.UintBE(3), 0x010203u);
}

TEST(ProtocolTest, NativePasswordScrambleMatchesReference) {
  EXPECT_EQ(HexBytes(NativePasswordScramble("secret", "abcdefghijklmnopqrst")),
            "8817c50fa779daef010ee7577825b0847df9842e");
  EXPECT_EQ(NativePasswordScramble("", "abcdefghijklmnopqrst"), "");
}

TEST(ProtocolTest, ParsesErrPacket) {
  std::string p = std::string("\xff\x15\x04#28000", 9) + "Access denied";
  ServerError e;
  ASSERT_TRUE(ParseErrPacket(p, &e));
  EXPECT_EQ(e.code, 1045);
  EXPECT_EQ(e.sql_state, "28000");
  EXPECT_EQ(e.message, "Access denied");
  EXPECT_NE(ToError(e).message.find("1045"), std::string::npos);
  EXPECT_FALSE(ParseErrPacket("\x00", &e));
}

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    a_ = std::make_unique<PacketChannel>(fds[0]);
    b_ = std::make_unique<PacketChannel>(fds[1]);
  }
  std::unique_ptr<PacketChannel> a_, b_;
};

TEST_F(ChannelTest, RoundTripsPayloadsAroundThe16MBBoundary) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, kMaxPacketPayload - 1, kMaxPacketPayload,
                           kMaxPacketPayload + 1, 2 * kMaxPacketPayload, std::size_t{40} << 20}) {
    std::string payload(size, 'x');
    for (std::size_t i = 0; i < size; i += 4099) payload[i] = static_cast<char>(i % 251);
    a_->ResetSequence();
    b_->ResetSequence();
    std::thread writer([&] { ASSERT_TRUE(a_->Write(payload)); });
    auto got = b_->Read();
    writer.join();
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->size(), size);
    EXPECT_TRUE(*got == payload) << size;
  }
}

TEST_F(ChannelTest, RefusesWrongSequenceId) {
  std::string bad("\x01\x00\x00\x05x", 5);
  ASSERT_EQ(::write(a_->fd(), bad.data(), bad.size()), 5);
  auto got = b_->Read();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kProtocol);
}

TEST_F(ChannelTest, RefusesOversizedPayload) {
  b_->set_max_payload(10);
  ASSERT_TRUE(a_->Write(std::string(11, 'y')));
  auto got = b_->Read();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kProtocol);
}

TEST_F(ChannelTest, TruncatedPacketIsAnErrorNotAHang) {
  std::string partial = std::string("\x10\x00\x00\x00", 4) + "abc";
  ASSERT_EQ(::write(a_->fd(), partial.data(), partial.size()), 7);
  a_->Shutdown();
  auto got = b_->Read();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kBackendUnavailable);
}

TEST_F(ChannelTest, ReadTimesOut) {
  b_->set_read_timeout(std::chrono::milliseconds(50));
  auto got = b_->Read();
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("no data"), std::string::npos);
}

}  // namespace
}  // namespace scion::mysql
