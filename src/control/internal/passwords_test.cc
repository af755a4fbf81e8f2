#include "control/internal/passwords.h"

#include <gtest/gtest.h>

#include <cctype>

namespace scion::control::internal {
namespace {

TEST(PasswordRulesTest, AcceptsPrintableNamesUpTo64) {
  for (const char* ok : {"a", "my app", "prod-app_1.x:(ro)", "0123456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_TRUE(ValidatePasswordName(ok)) << ok;
  }
}

TEST(PasswordRulesTest, RefusesEmptyLongUnprintableOrPaddedNames) {
  for (std::string bad : {std::string(), std::string(65, 'a'), std::string("tab\there"), std::string(" lead"),
                          std::string("trail "), std::string("caf\xc3\xa9")}) {
    auto r = ValidatePasswordName(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("invalid password name"), std::string::npos);
  }
}

TEST(PasswordRulesTest, RoleDefaultsToAdminAndRefusesUnknown) {
  EXPECT_EQ(*NormalizeRole(""), "admin");
  for (const char* role : {"reader", "writer", "readwriter", "admin"}) EXPECT_EQ(*NormalizeRole(role), role);
  auto r = NormalizeRole("root");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().hint.find("readwriter"), std::string::npos);
}

TEST(PasswordRulesTest, TtlIsZeroToOneYear) {
  EXPECT_TRUE(ValidateTtl(0));
  EXPECT_TRUE(ValidateTtl(3600));
  EXPECT_TRUE(ValidateTtl(kMaxPasswordTtlSeconds));
  EXPECT_FALSE(ValidateTtl(-1));
  EXPECT_FALSE(ValidateTtl(kMaxPasswordTtlSeconds + 1));
}

TEST(PasswordRulesTest, GeneratedUsernamesAndPasswordsHaveTheirShape) {
  auto user = NewUsername();
  EXPECT_EQ(user.size(), 20u);
  for (char c : user) EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)));
  auto pw = NewPlainTextPassword();
  ASSERT_EQ(pw.size(), kPlainTextPrefix.size() + 43);
  EXPECT_TRUE(pw.starts_with("scion_pw_"));
  for (char c : pw.substr(kPlainTextPrefix.size())) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
  EXPECT_NE(NewUsername(), user);
  EXPECT_NE(NewPlainTextPassword(), pw);
}

}  // namespace
}  // namespace scion::control::internal
