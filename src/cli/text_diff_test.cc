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

}  // namespace
}  // namespace scion::cli
