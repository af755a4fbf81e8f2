#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/error.h"
#include "base/files.h"
#include "base/log.h"
#include "base/names.h"

namespace scion {
namespace {

Result<int> Half(int x) {
  if (x % 2) return MakeError(ErrorCode::kInvalidArgument, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  SCION_ASSIGN_OR_RETURN(int h, Half(x));
  SCION_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  SCION_TRY(Half(x));
  return Ok();
}

TEST(ErrorTest, MacrosPropagateErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  ASSERT_FALSE(Quarter(6));
  EXPECT_EQ(Quarter(6).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4));
  EXPECT_FALSE(CheckEven(3));
}

TEST(ErrorTest, ToStringAddsHint) {
  Error e{ErrorCode::kNotFound, "branch \"x\" not found", "run: scion branch list db"};
  EXPECT_EQ(e.ToString(), "branch \"x\" not found (run: scion branch list db)");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kNotFound), "not_found");
}

TEST(NamesTest, AcceptsLowercaseDigitsDashes) {
  EXPECT_TRUE(ValidateName("branch", "add-user-prefs"));
  EXPECT_TRUE(ValidateName("branch", "main"));
  EXPECT_TRUE(ValidateName("branch", "a1"));
}

TEST(NamesTest, RefusesBadNamesWithReason) {
  for (const char* bad : {"", "Main", "has space", "-lead", "trail-", "semi;colon", "under_score",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    auto r = ValidateName("branch", bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("invalid branch name"), std::string::npos);
  }
}

TEST(CryptoTest, RandomValuesHaveShapeAndDiffer) {
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
  auto id = RandomId(12);
  EXPECT_EQ(id.size(), 12u);
  for (char c : id) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
}

TEST(CryptoTest, RandomBase62UsesLettersAndDigitsOnly) {
  auto s = RandomBase62(43);
  EXPECT_EQ(s.size(), 43u);
  for (char c : s) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << c;
  EXPECT_NE(RandomBase62(43), s);
}

TEST(CryptoTest, HexRoundTripsAndRefusesBadInput) {
  std::string bytes("\x00\x01\xab\xff", 4);
  EXPECT_EQ(HexEncode(bytes), "0001abff");
  EXPECT_EQ(HexDecode("0001abff"), bytes);
  EXPECT_EQ(HexDecode("0001ABFF"), bytes);
  EXPECT_EQ(HexDecode(""), std::string());
  EXPECT_FALSE(HexDecode("abc"));
  EXPECT_FALSE(HexDecode("zz"));
}

TEST(CryptoTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(ClockTest, FormatsRfc3339) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestamp(1795510672123), "2026-11-24T08:57:52.123Z");
}

TEST(FilesTest, WriteAtomicSetsModeAndContent) {
  auto dir = std::filesystem::temp_directory_path() / ("scion-base-test-" + RandomId(8));
  ASSERT_TRUE(MakeDirs(dir, 0700));
  auto file = dir / "secret";
  ASSERT_TRUE(WriteFileAtomic(file, "hello", 0600));
  EXPECT_EQ(*ReadFile(file), "hello");
  auto perms = std::filesystem::status(file).permissions();
  EXPECT_EQ(perms, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(ReadFile(dir / "missing").error().code, ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(LogTest, QuotesValuesThatNeedIt) {
  EXPECT_EQ(log::Quote("plain"), "plain");
  EXPECT_EQ(log::Quote("two words"), "\"two words\"");
  EXPECT_EQ(log::Quote("a\"b"), "\"a\\\"b\"");
}

}  // namespace
}  // namespace scion
