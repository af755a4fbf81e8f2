#include "schema/diff.h"

#include <gtest/gtest.h>

#include "schema/introspect.h"

namespace scion::schema {
namespace {

TEST(NormalizeTest, DropsIntegerDisplayWidths) {
  EXPECT_EQ(NormalizeColumnType("int(11)"), "int");
  EXPECT_EQ(NormalizeColumnType("int(10) unsigned"), "int unsigned");
  EXPECT_EQ(NormalizeColumnType("bigint(20)"), "bigint");
  EXPECT_EQ(NormalizeColumnType("tinyint(1)"), "tinyint(1)");
  EXPECT_EQ(NormalizeColumnType("tinyint(4)"), "tinyint");
  EXPECT_EQ(NormalizeColumnType("int(5) unsigned zerofill"), "int(5) unsigned zerofill");
  EXPECT_EQ(NormalizeColumnType("varchar(20)"), "varchar(20)");
  EXPECT_EQ(CollapseWhitespace("\n PARTITION BY HASH (`a`)\nPARTITIONS 2"), "PARTITION BY HASH (`a`) PARTITIONS 2");
}

TEST(NarrowingTest, RecognizesLossyTypeChanges) {
  EXPECT_FALSE(IsNarrowing("int", "bigint"));
  EXPECT_TRUE(IsNarrowing("bigint", "int"));
  EXPECT_TRUE(IsNarrowing("int", "int unsigned"));
  EXPECT_FALSE(IsNarrowing("int unsigned", "bigint"));
  EXPECT_TRUE(IsNarrowing("varchar(50)", "varchar(20)"));
  EXPECT_FALSE(IsNarrowing("varchar(20)", "varchar(50)"));
  EXPECT_FALSE(IsNarrowing("varchar(20)", "text"));
  EXPECT_TRUE(IsNarrowing("text", "varchar(100)"));
  EXPECT_TRUE(IsNarrowing("mediumtext", "text"));
  EXPECT_TRUE(IsNarrowing("decimal(10,2)", "decimal(8,2)"));
  EXPECT_FALSE(IsNarrowing("decimal(10,2)", "decimal(12,2)"));
  EXPECT_TRUE(IsNarrowing("enum('a','b')", "enum('a')"));
  EXPECT_FALSE(IsNarrowing("enum('a')", "enum('a','b')"));
  EXPECT_TRUE(IsNarrowing("set('a','b,c')", "set('a')"));
}

Table MakeTable(std::vector<std::string> names) {
  Table t;
  t.name = "t";
  t.engine = "InnoDB";
  for (auto& n : names) t.columns.push_back(Column{.name = n, .type = "int"});
  return t;
}

TEST(AlterTest, MovesOnlyWhatMoved) {
  auto clauses = AlterClauses(MakeTable({"a", "b", "c", "d"}), MakeTable({"a", "c", "b", "d"}));
  ASSERT_EQ(clauses.size(), 1u);
  EXPECT_EQ(clauses[0], "MODIFY COLUMN `b` int AFTER `c`");  // one column moves, the others stay
}

TEST(AlterTest, AddsDropsWithPositions) {
  Table from = MakeTable({"a", "b"}), to = MakeTable({"z", "a"});
  auto clauses = AlterClauses(from, to);
  ASSERT_EQ(clauses.size(), 2u);
  EXPECT_EQ(clauses[0], "DROP COLUMN `b`");
  EXPECT_EQ(clauses[1].rfind("ADD COLUMN `z` int", 0), 0u);
  EXPECT_NE(clauses[1].find(" FIRST"), std::string::npos);
  EXPECT_TRUE(AlterClauses(from, from).empty());
}

}  // namespace
}  // namespace scion::schema
