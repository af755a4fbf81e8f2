#include "gateway/guard.h"

#include <gtest/gtest.h>

namespace scion::gateway {
namespace {

const GuardPolicy kDev{.safe_migrations = false, .branch = "dev", .database = "shop"};
const GuardPolicy kProtected{.safe_migrations = true, .branch = "main", .database = "shop"};

TEST(GuardTest, RefusesForeignKeyOnEveryBranch) {
  for (const auto& policy : {kDev, kProtected}) {
    auto r = CheckStatement("CREATE TABLE o (id INT PRIMARY KEY, u INT, FOREIGN KEY (u) REFERENCES users(id))", policy);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->code, 1105);
    EXPECT_NE(r->message.find("foreign key constraints are not allowed"), std::string::npos);
    EXPECT_NE(r->message.find("application"), std::string::npos);
  }
  EXPECT_TRUE(CheckStatement("ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id)", kDev));
  EXPECT_TRUE(CheckStatement("ALTER TABLE o ADD COLUMN u2 INT REFERENCES users (id)", kDev));
}

TEST(GuardTest, RefusesDirectDdlOnlyWithSafeMigrations) {
  const char* ddl[] = {"CREATE TABLE t (id INT PRIMARY KEY)", "ALTER TABLE t ADD c INT", "DROP TABLE t",
                       "RENAME TABLE t TO u", "TRUNCATE TABLE t", "CREATE INDEX i ON t (c)", "DROP INDEX i ON t",
                       "CREATE VIEW v AS SELECT 1", "OPTIMIZE TABLE t"};
  for (const char* sql : ddl) {
    EXPECT_FALSE(CheckStatement(sql, kDev)) << sql;
    auto r = CheckStatement(sql, kProtected);
    ASSERT_TRUE(r.has_value()) << sql;
    EXPECT_EQ(r->code, 1105);
    EXPECT_EQ(r->sql_state, "HY000");
    EXPECT_EQ(r->message.rfind("direct DDL is disabled", 0), 0u) << r->message;
    EXPECT_NE(r->message.find("deploy request"), std::string::npos);
  }
}

TEST(GuardTest, CommentsMultiStatementsAndPrepareDoNotGetAround) {
  const char* sneaky[] = {"/* hi */ DROP TABLE t", "/*!40101 DROP TABLE t */", "/*M!100100 ALTER TABLE t ADD c INT */",
                          "SELECT 1; DROP TABLE t", "PREPARE s FROM 'DROP TABLE t'",
                          "EXECUTE IMMEDIATE 'ALTER TABLE t ADD c INT'", "-- x\nDROP TABLE t", "# x\nDROP TABLE t"};
  for (const char* sql : sneaky) EXPECT_TRUE(CheckStatement(sql, kProtected)) << sql;
  EXPECT_TRUE(CheckStatement("SELECT 1; CREATE TABLE c (a INT, FOREIGN KEY (a) REFERENCES p (a))", kDev));
}

TEST(GuardTest, RefusesDynamicSqlItCannotSee) {
  EXPECT_TRUE(CheckStatement("PREPARE s FROM @sql", kDev));
  EXPECT_TRUE(CheckStatement("EXECUTE IMMEDIATE @sql", kDev));
}

TEST(GuardTest, LetsOrdinaryStatementsThrough) {
  const char* fine[] = {"SELECT * FROM t WHERE note = 'DROP TABLE t'", "INSERT INTO t VALUES ('FOREIGN KEY')",
                        "UPDATE t SET a = 1", "DELETE FROM t", "BEGIN", "COMMIT", "SET NAMES utf8mb4",
                        "SHOW TABLES", "PREPARE s FROM 'SELECT ?'", ""};
  for (const char* sql : fine) EXPECT_FALSE(CheckStatement(sql, kProtected)) << sql;
}

TEST(GuardTest, RefusesKillsItCannotTranslate) {
  for (const char* sql : {"KILL 0+123", "KILL (123)", "KILL QUERY ID 5", "KILL USER CURRENT_USER", "KILL 5; DO 0",
                          "DO 0; KILL 5", "PREPARE s FROM 'KILL 5'", "/*!50000 KILL 5 */; SELECT 1"}) {
    auto r = CheckStatement(sql, kDev);
    ASSERT_TRUE(r.has_value()) << sql;
    EXPECT_NE(r->message.find("KILL"), std::string::npos);
    EXPECT_TRUE(r->kill);
  }
  auto lone = CheckStatement("KILL QUERY 7", kDev);  // refused as it stands; the gateway translates it
  ASSERT_TRUE(lone.has_value());
  EXPECT_TRUE(lone->kill);
}

TEST(GuardTest, ParsesKillStatements) {
  auto k = ParseKill("KILL QUERY 42");
  ASSERT_TRUE(k);
  EXPECT_TRUE(k->query_only);
  EXPECT_EQ(k->connection_id, 42u);
  k = ParseKill("/* ctrl-c */ kill connection 7;");
  ASSERT_TRUE(k);
  EXPECT_FALSE(k->query_only);
  EXPECT_EQ(k->connection_id, 7u);
  EXPECT_TRUE(ParseKill("KILL HARD QUERY 3"));
  EXPECT_TRUE(ParseKill("KILL 3"));
  EXPECT_FALSE(ParseKill("KILL QUERY ID 3"));
  EXPECT_FALSE(ParseKill("KILL USER bob"));
  EXPECT_FALSE(ParseKill("KILL 3; DROP TABLE t"));
  EXPECT_FALSE(ParseKill("SELECT 1"));
  EXPECT_FALSE(ParseKill("KILL 99999999999999999999"));
}

}  // namespace
}  // namespace scion::gateway
