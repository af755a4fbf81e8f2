#include "mysql/auth.h"

#include <gtest/gtest.h>

#include "mysql/protocol.h"

namespace scion::mysql {
namespace {

const std::string kNonce = "abcdefghijklmnopqrst";

TEST(AuthTest, NativeScrambleChecksAgainstVerifierOnly) {
  std::string verifier = NativeVerifier("secret");
  EXPECT_EQ(verifier.size(), 20u);
  EXPECT_TRUE(CheckNativeScramble(NativePasswordScramble("secret", kNonce), kNonce, verifier));
  EXPECT_FALSE(CheckNativeScramble(NativePasswordScramble("Secret", kNonce), kNonce, verifier));
  EXPECT_FALSE(CheckNativeScramble(NativePasswordScramble("secret", "another-nonce-012345"), kNonce, verifier));
  EXPECT_FALSE(CheckNativeScramble("short", kNonce, verifier));
}

TEST(AuthTest, CachingSha2FastAuth) {
  std::string entry = CachingSha2CacheEntry("secret");
  EXPECT_EQ(entry.size(), 32u);
  EXPECT_TRUE(CheckCachingSha2Scramble(CachingSha2Scramble("secret", kNonce), kNonce, entry));
  EXPECT_FALSE(CheckCachingSha2Scramble(CachingSha2Scramble("secreT", kNonce), kNonce, entry));
  EXPECT_FALSE(CheckCachingSha2Scramble(std::string(32, 'x'), kNonce, entry));
  EXPECT_EQ(CachingSha2Scramble("", kNonce), "");
}

TEST(AuthTest, SlowHashIsSaltedAndChecks) {
  std::string a = SlowHash("secret", 1000), b = SlowHash("secret", 1000);
  EXPECT_NE(a, b);  // salted
  EXPECT_TRUE(CheckSlowHash("secret", a));
  EXPECT_FALSE(CheckSlowHash("secret!", a));
  EXPECT_FALSE(CheckSlowHash("secret", "pbkdf2-sha256$x$00$00"));
  EXPECT_FALSE(CheckSlowHash("secret", "md5$whatever"));
  EXPECT_EQ(a.rfind("pbkdf2-sha256$1000$", 0), 0u);
}

}  // namespace
}  // namespace scion::mysql
