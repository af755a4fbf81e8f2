#include "mysql/admin_connection.h"

#include <gtest/gtest.h>

namespace scion::mysql {
namespace {

TEST(QuoteTest, IdentifiersDoubleBackquotes) {
  EXPECT_EQ(QuoteIdentifier("mydb"), "`mydb`");
  EXPECT_EQ(QuoteIdentifier("a`b"), "`a``b`");
  EXPECT_EQ(QuoteIdentifier("add-user"), "`add-user`");
}

TEST(QuoteTest, StringsEscapeQuotesAndBackslashes) {
  EXPECT_EQ(QuoteString("it's"), "'it''s'");
  EXPECT_EQ(QuoteString("a\\b"), "'a\\\\b'");
  EXPECT_EQ(QuoteString(std::string_view("a\0b", 3)), "'a\\0b'");
}

TEST(AdminConnectionTest, MissingSocketIsBackendUnavailable) {
  auto conn = AdminConnection::Connect({.unix_socket = "/nonexistent/scion.sock", .user = "x"});
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().code, ErrorCode::kBackendUnavailable);
  EXPECT_NE(conn.error().message.find("/nonexistent/scion.sock"), std::string::npos);
}

}  // namespace
}  // namespace scion::mysql
