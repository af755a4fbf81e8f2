#include "mysql/server_handshake.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/crypto.h"
#include "mysql/admin_connection.h"
#include "mysql/auth.h"
#include "mysql/blocking_client.h"
#include "mysql/packet_channel.h"
#include "mysql/protocol.h"

namespace scion::mysql {
namespace {
namespace fs = std::filesystem;

TEST(ServerHandshakeTest, ErrPacketRoundTrips) {
  ServerError e;
  ASSERT_TRUE(ParseErrPacket(BuildErr(1045, "28000", "Access denied"), &e));
  EXPECT_EQ(e.code, 1045);
  EXPECT_EQ(e.sql_state, "28000");
  EXPECT_EQ(e.message, "Access denied");
}

TEST(ServerHandshakeTest, NonceIsPrintableAndRandom) {
  auto a = NewNonce(), b = NewNonce();
  EXPECT_EQ(a.size(), 20u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(c > 32 && c < 127);
}

TEST(ServerHandshakeTest, MalformedResponsesAreErrorsNotCrashes) {
  EXPECT_FALSE(ParseHandshakeResponse(""));
  EXPECT_FALSE(ParseHandshakeResponse("abc"));
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 131) % 256);
  for (std::size_t cut = 0; cut < junk.size(); cut += 37) (void)ParseHandshakeResponse(std::string_view(junk).substr(cut));
  // Protocol 4.1 bit set, then a user without its NUL terminator.
  std::string p(32, '\0');
  p[1] = 0x02;  // CLIENT_PROTOCOL_41 (512)
  p += "alice";
  EXPECT_FALSE(ParseHandshakeResponse(p));
}

// A tiny server on a unix socket that speaks the connection phase with our builders, checks
// mysql_native_password against a verifier, then answers every command with OK.
class FakeServer {
 public:
  explicit FakeServer(std::string password) : verifier_(NativeVerifier(password)) {
    dir_ = fs::temp_directory_path() / ("scion-hs-" + RandomId(8));
    fs::create_directories(dir_);
    path_ = (dir_ / "s.sock").string();
    listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listener_, 8);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
    fs::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  HandshakeResponse last() {
    std::lock_guard l(mu_);
    return last_;
  }

 private:
  void Loop() {
    while (!stop_) {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      Serve(fd);
    }
  }
  void Serve(int fd) {
    PacketChannel ch(fd);
    ServerGreeting g;
    g.connection_id = 7;
    g.nonce = NewNonce();
    g.capabilities = kClientLongPassword | kClientProtocol41 | kClientSecureConnection | kClientPluginAuth |
                     kClientPluginAuthLenencData | kClientConnectWithDb | kClientTransactions | kClientMultiResults |
                     (1u << 20);
    if (!ch.Write(BuildGreeting(g))) return;
    auto payload = ch.Read();
    if (!payload) return;
    auto resp = ParseHandshakeResponse(*payload);
    if (!resp) {
      (void)ch.Write(BuildErr(1043, "08S01", "Bad handshake"));
      return;
    }
    {
      std::lock_guard l(mu_);
      last_ = *resp;
    }
    if (!CheckNativeScramble(resp->auth_response, g.nonce, verifier_)) {
      (void)ch.Write(BuildErr(1045, "28000", "Access denied for user '" + resp->user + "'"));
      return;
    }
    if (!ch.Write(BuildOk())) return;
    while (true) {
      ch.ResetSequence();
      auto cmd = ch.Read();
      if (!cmd || cmd->empty() || (*cmd)[0] == kComQuit) return;
      if (!ch.Write(BuildOk(1))) return;
    }
  }

  std::string verifier_;
  fs::path dir_;
  std::string path_;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  HandshakeResponse last_;
};

TEST(ServerHandshakeTest, OurClientLogsInWithNativePassword) {
  FakeServer server("s3cret");
  auto client = BlockingClient::Connect({.endpoint = server.path(), .user = "alice", .password = "s3cret",
                                         .database = "app"});
  ASSERT_TRUE(client) << client.error().message;
  auto r = (*client)->Query("SET @x = 1");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->affected_rows, 1u);
  EXPECT_EQ(server.last().user, "alice");
  EXPECT_EQ(server.last().database, "app");
  EXPECT_EQ(server.last().auth_plugin, "mysql_native_password");
}

TEST(ServerHandshakeTest, ConnectorCLogsInAndWrongPasswordIsRefused) {
  FakeServer server("s3cret");
  auto ok = AdminConnection::Connect({.unix_socket = server.path(), .user = "bob", .password = "s3cret",
                                      .database = "shop"});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE((*ok)->Execute("DO 1"));
  auto seen = server.last();
  EXPECT_EQ(seen.user, "bob");
  EXPECT_EQ(seen.database, "shop");
  EXPECT_TRUE(seen.attributes.count("_client_name")) << "connection attributes parsed";
  ok->reset();  // the fake server serves one connection at a time
  auto bad = AdminConnection::Connect({.unix_socket = server.path(), .user = "bob", .password = "wrong"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("Access denied"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace scion::mysql
