#include "cli/schema_diff.h"
#include "cli/text_diff.h"

#include <gtest/gtest.h>

namespace scion::cli {
namespace {

TEST(LineDiffTest, MarksAddedAndRemovedLines) {
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nx\nc\n", false), "  a\n+ x\n- b\n  c\n");
  EXPECT_EQ(LineDiff("", "a\n", false), "+ a\n");
  EXPECT_EQ(LineDiff("a\n", "", false), "- a\n");
  EXPECT_EQ(LineDiff("a\n", "b\n", true), "\033[32m+ b\033[0m\n\033[31m- a\033[0m\n");
}

TEST(SplitSqlTest, KeepsExecutableCommentsAndQuotesWhole) {
  auto st = SplitSql("/*!40101 SET @a=1; SET @b=2 */;\n-- a comment; here\nCREATE TABLE t (c VARCHAR(10) "
                     "/*M!100301 COMPRESSED*/ DEFAULT 'x;y' COMMENT 'it''s; \\' ok');  # trailing; comment\n"
                     "/* plain; comment */ CREATE VIEW v AS SELECT 1;");
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0], "/*!40101 SET @a=1; SET @b=2 */");
  EXPECT_NE(st[1].find("/*M!100301 COMPRESSED*/"), std::string::npos);
  EXPECT_NE(st[1].find("'x;y'"), std::string::npos);
  EXPECT_NE(st[1].find("'it''s; \\' ok'"), std::string::npos);
  EXPECT_NE(st[2].find("CREATE VIEW v AS SELECT 1"), std::string::npos);
}

}  // namespace
}  // namespace scion::cli
