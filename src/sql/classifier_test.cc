#include "sql/classifier.h"

#include <gtest/gtest.h>

#include <sstream>

#include "base/testing/case_file.h"

namespace scion::sql {
namespace {

TEST(LexerTest, TokenKinds) {
  auto t = Lex("SELECT `a``b`, 'it''s', @x, @@global.y, ?, 1.5e3, x'41' /* c */ FROM t; -- end");
  ASSERT_GE(t.size(), 12u);
  EXPECT_EQ(t[0].kind, TokenKind::kWord);
  EXPECT_EQ(t[1].kind, TokenKind::kQuotedName);
  EXPECT_EQ(t[1].text, "a`b");
  EXPECT_EQ(t[3].kind, TokenKind::kString);
  EXPECT_EQ(t[3].text, "it's");
  EXPECT_EQ(t[5].kind, TokenKind::kVariable);
  EXPECT_EQ(t[7].text, "@@global.y");
  EXPECT_EQ(t[9].kind, TokenKind::kPlaceholder);
  EXPECT_EQ(t[11].text, "1.5e3");
  EXPECT_EQ(t[13].kind, TokenKind::kNumber);
  EXPECT_EQ(t.back().kind, TokenKind::kSemicolon);
}

TEST(ClassifierTest, DataDrivenCases) {
  auto cases = scion::testing::ReadCases(SCION_SQL_TESTDATA "/classify.test");
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    std::string sql = c.blocks.at("sql");
    std::istringstream want(c.blocks.at("expect"));
    std::string kind, flag;
    want >> kind;
    bool ddl = false, fk = false, dynamic = false;
    while (want >> flag) {
      if (flag == "ddl") ddl = true;
      if (flag == "fk") fk = true;
      if (flag == "dynamic") dynamic = true;
    }
    auto got = ClassifyText(sql);
    EXPECT_EQ(StatementKindName(got.kind), kind) << c.name;
    EXPECT_EQ(got.ddl, ddl) << c.name << ": ddl";
    EXPECT_EQ(got.foreign_key, fk) << c.name << ": foreign key";
    EXPECT_EQ(got.dynamic_sql, dynamic) << c.name << ": dynamic";
  }
}

TEST(ClassifierTest, NeverCrashesOnGarbage) {
  std::string junk;
  for (int i = 0; i < 20000; ++i) junk += static_cast<char>((i * 7919) % 256);
  for (std::size_t cut = 0; cut < junk.size(); cut += 997) (void)ClassifyAll(std::string_view(junk).substr(cut));
  (void)ClassifyAll("'");
  (void)ClassifyAll("`");
  (void)ClassifyAll("/*!");
  (void)ClassifyAll("@");
  (void)ClassifyAll("x'");
  SUCCEED();
}

}  // namespace
}  // namespace scion::sql
