#include "cli/output.h"

#include <gtest/gtest.h>

namespace scion::cli {
namespace {
using json = nlohmann::json;

const std::vector<Column> kColumns = {{"NAME", "name"}, {"READY", "ready"}, {"PID", "instance.pid"}};

TEST(RenderTest, HumanAlignsColumns) {
  json rows = json::array({{{"name", "main"}, {"ready", true}, {"instance", {{"pid", 12}}}},
                           {{"name", "add-user-prefs"}, {"ready", false}, {"instance", {{"pid", nullptr}}}}});
  EXPECT_EQ(Render(rows, kColumns, Format::kHuman),
            "NAME            READY  PID\n"
            "main            yes    12\n"
            "add-user-prefs  no     -\n");
}

TEST(RenderTest, CsvQuotesWhenNeeded) {
  json rows = json::array({{{"name", "a,b"}, {"ready", true}}});
  EXPECT_EQ(Render(rows, kColumns, Format::kCsv), "NAME,READY,PID\n\"a,b\",yes,\n");
}

TEST(RenderTest, JsonIsTheObjectItself) {
  json obj = {{"name", "main"}};
  EXPECT_EQ(json::parse(Render(obj, kColumns, Format::kJson)), obj);
}

TEST(FormatTest, RefusesUnknownFormat) {
  EXPECT_TRUE(ParseFormat("csv"));
  auto bad = ParseFormat("yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().hint.find("human"), std::string::npos);
}

TEST(ExitCodeTest, DistinguishesCommonFailures) {
  EXPECT_EQ(ExitCodeFor(ErrorCode::kNotFound), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kAlreadyExists), kExitConflict);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kUnauthenticated), kExitUnauthorized);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kUnavailable), kExitUnavailable);
}

}  // namespace
}  // namespace scion::cli
