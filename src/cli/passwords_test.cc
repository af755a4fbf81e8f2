#include "cli/passwords.h"

#include <gtest/gtest.h>

namespace scion::cli {
namespace {
using json = nlohmann::json;

TEST(ParseTtlTest, AcceptsSecondsAndUnitSuffixes) {
  EXPECT_EQ(*ParseTtl("3600"), 3600);
  EXPECT_EQ(*ParseTtl("0"), 0);
  EXPECT_EQ(*ParseTtl("45s"), 45);
  EXPECT_EQ(*ParseTtl("30m"), 1800);
  EXPECT_EQ(*ParseTtl("24h"), 86400);
  EXPECT_EQ(*ParseTtl("7d"), 7 * 86400);
}

TEST(ParseTtlTest, RefusesOtherShapes) {
  for (const char* bad : {"", "h", "-5", "+5", "1.5h", "1h30m", "10w", "abc", " 5", "99999999999999999999"}) {
    auto r = ParseTtl(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().hint.find("24h"), std::string::npos);
  }
}

json Created(const std::string& access) {
  return {{"id", "pid1"},         {"name", "app"},        {"username", "u123"},
          {"plain_text", "scion_pw_X"}, {"role", "admin"},  {"database", "mydb"},
          {"access_host_url", access},  {"expires_at", nullptr}, {"database_branch", {{"name", "main"}, {"id", "b1"}}}};
}

TEST(CreatedPasswordTextTest, PrintsConnectionStringsAndOneTimeWarning) {
  auto text = CreatedPasswordText(Created("127.0.0.1:3306"));
  EXPECT_NE(text.find("Password \"app\" was created for mydb/main."), std::string::npos) << text;
  EXPECT_NE(text.find("mysql -h 127.0.0.1 -P 3306 -u u123 -p'scion_pw_X' mydb"), std::string::npos) << text;
  EXPECT_NE(text.find("mysql://u123:scion_pw_X@127.0.0.1:3306/mydb\n"), std::string::npos) << text;
  EXPECT_NE(text.find("DATABASE_URL=\"mysql://u123:scion_pw_X@127.0.0.1:3306/mydb?sslaccept=strict\""),
            std::string::npos);
  EXPECT_NE(text.find("EXPIRES AT  never"), std::string::npos);
  EXPECT_NE(text.find("will not be shown again"), std::string::npos);
  EXPECT_EQ(text.find("gateway not running"), std::string::npos);
}

TEST(CreatedPasswordTextTest, SaysWhenTheGatewayIsNotRunning) {
  auto text = CreatedPasswordText(Created(""));
  EXPECT_NE(text.find("HOST        (gateway not running)"), std::string::npos) << text;
  EXPECT_NE(text.find("mysql -h <host> -P <port> -u u123"), std::string::npos) << text;
}

}  // namespace
}  // namespace scion::cli
