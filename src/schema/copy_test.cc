#include "schema/copy.h"

#include <gtest/gtest.h>

namespace scion::schema {
namespace {

TEST(StripAutoIncrementTest, RemovesOnlyTheTableOption) {
  std::string in =
      "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB "
      "AUTO_INCREMENT=51 DEFAULT CHARSET=utf8mb4";
  std::string want =
      "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB "
      "DEFAULT CHARSET=utf8mb4";
  EXPECT_EQ(StripAutoIncrement(in), want);
  EXPECT_EQ(StripAutoIncrement(want), want);
}

}  // namespace
}  // namespace scion::schema
