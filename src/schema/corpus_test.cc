// Round trips of the diff corpus on a real MariaDB instance: load FROM and TO into two scratch
// databases, diff, apply the diff to FROM, introspect, and compare with TO; then the reverse.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

#include "base/crypto.h"
#include "fleet/scratch.h"
#include "mysql/admin_connection.h"
#include "schema/diff.h"
#include "schema/introspect.h"
#include "schema/lint.h"
#include "schema/merge.h"
#include "base/testing/case_file.h"
#include "schema/verify.h"

namespace scion::schema {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class Scratch {
 public:
  static Scratch& Get() {
    static Scratch* s = new Scratch();
    return *s;
  }
  mysql::AdminConnection& conn() { return *conn_; }
  bool ok() const { return conn_ != nullptr; }
  ~Scratch() = default;

  Status Load(const std::string& db, const std::string& sql) {
    SCION_TRY(conn_->Execute("DROP DATABASE IF EXISTS " + mysql::QuoteIdentifier(db)));
    SCION_TRY(conn_->Execute("CREATE DATABASE " + mysql::QuoteIdentifier(db) +
                             " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"));
    SCION_TRY(conn_->Execute("USE " + mysql::QuoteIdentifier(db)));
    for (const auto& stmt : scion::testing::SplitStatements(sql)) SCION_TRY(conn_->Execute(stmt));
    return Ok();
  }
  Status Apply(const std::string& db, const std::vector<Statement>& statements) {
    SCION_TRY(conn_->Execute("USE " + mysql::QuoteIdentifier(db)));
    for (const auto& s : statements) SCION_TRY(conn_->Execute(s.sql));
    return Ok();
  }

  void Shutdown() {
    conn_.reset();
    instance_.reset();
  }

 private:
  Scratch() {
    auto instance = fleet::ScratchInstance::Start();
    if (!instance) return;
    instance_ = std::move(*instance);
    auto c = instance_->Connect();
    if (c) conn_ = std::move(*c);
  }
  std::unique_ptr<fleet::ScratchInstance> instance_;
  std::unique_ptr<mysql::AdminConnection> conn_;
};

class Environment : public ::testing::Environment {
 public:
  void TearDown() override { Scratch::Get().Shutdown(); }
};
const auto* kEnv = ::testing::AddGlobalTestEnvironment(new Environment);

fs::path TestData() { return fs::path(SCION_SCHEMA_TESTDATA); }

std::string Describe(const std::vector<Statement>& st) {
  std::string s;
  for (const auto& x : st) s += "  " + x.sql + ";\n";
  return s.empty() ? "  (none)\n" : s;
}

// One direction: returns "" on success, else what went wrong.
std::string RoundTrip(const std::string& from_sql, const std::string& to_sql, bool expect_equal) {
  auto& s = Scratch::Get();
  if (auto r = s.Load("corpus_from", from_sql); !r) return "loading FROM: " + r.error().message;
  if (auto r = s.Load("corpus_to", to_sql); !r) return "loading TO: " + r.error().message;
  auto from = Introspect(s.conn(), "corpus_from");
  auto to = Introspect(s.conn(), "corpus_to");
  if (!from || !to) return "introspection failed";
  auto statements = Diff(*from, *to);
  if (expect_equal) {
    if (!statements.empty()) return "expected no diff, got:\n" + Describe(statements);
    return "";
  }
  // Verify() on a scratch copy must agree with applying for real.
  if (auto v = Verify(s.conn(), *from, *to, statements); !v) return "Verify refused a good diff: " + v.error().message;
  if (auto r = s.Apply("corpus_from", statements); !r) {
    return "applying the diff failed: " + r.error().message + "\n" + Describe(statements);
  }
  auto after = Introspect(s.conn(), "corpus_from");
  if (!after) return "introspection after apply failed";
  if (!after->SameAs(*to)) {
    auto again = Diff(*after, *to);
    return "after applying\n" + Describe(statements) + "the schemas still differ by\n" + Describe(again);
  }
  return "";
}

TEST(DiffCorpusTest, EveryCaseRoundTripsBothWays) {
  ASSERT_TRUE(Scratch::Get().ok()) << "no scratch MariaDB instance";
  auto cases = scion::testing::ReadDir(TestData() / "diff");
  ASSERT_GE(cases.size(), 1u);
  int checked = 0;
  for (const auto& c : cases) {
    bool equal = c.Has("equal");
    std::string forward = RoundTrip(c.blocks.at("from"), c.blocks.at("to"), equal);
    EXPECT_EQ(forward, "") << c.file << ": " << c.name << " (FROM -> TO)";
    std::string backward = RoundTrip(c.blocks.at("to"), c.blocks.at("from"), equal);
    EXPECT_EQ(backward, "") << c.file << ": " << c.name << " (TO -> FROM)";
    ++checked;
  }
  RecordProperty("cases", checked);
}

Result<Schema> LoadSchema(const std::string& db, const std::string& sql) {
  SCION_TRY(Scratch::Get().Load(db, sql));
  return Introspect(Scratch::Get().conn(), db);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(VerifyTest, CatchesAWrongDiff) {
  ASSERT_TRUE(Scratch::Get().ok());
  auto from = LoadSchema("verify_from", "CREATE TABLE t (id INT PRIMARY KEY, a INT);\n");
  auto to = LoadSchema("verify_to", "CREATE TABLE t (id INT PRIMARY KEY, a BIGINT);\n");
  ASSERT_TRUE(from && to);
  std::vector<Statement> wrong = {{"t", ChangeKind::kAlterTable, "ALTER TABLE t MODIFY a SMALLINT", false, false}};
  auto r = Verify(Scratch::Get().conn(), *from, *to, wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_NE(r.error().message.find("still differs"), std::string::npos);
  EXPECT_TRUE(Verify(Scratch::Get().conn(), *from, *to, Diff(*from, *to)));
  auto dbs = Scratch::Get().conn().Query("SHOW DATABASES LIKE '\\_scion\\_verify%'");
  ASSERT_TRUE(dbs);
  EXPECT_TRUE(dbs->rows.empty());  // scratch databases are dropped
}

TEST(LintTest, TriggersAndRoutinesAreReportedNotDropped) {
  ASSERT_TRUE(Scratch::Get().ok());
  auto from = LoadSchema("obj_from", "CREATE TABLE t (id INT PRIMARY KEY);\n");
  ASSERT_TRUE(Scratch::Get().Load("obj_to", "CREATE TABLE t (id INT PRIMARY KEY, n INT);\n"));
  ASSERT_TRUE(Scratch::Get().conn().Execute("CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.n = 1"));
  ASSERT_TRUE(Scratch::Get().conn().Execute("CREATE PROCEDURE p() SELECT 1"));
  auto to = Introspect(Scratch::Get().conn(), "obj_to");
  ASSERT_TRUE(from && to);
  EXPECT_EQ(to->unsupported.size(), 2u);
  std::vector<std::string> codes;
  for (const auto& f : Lint(*from, *to)) codes.push_back(f.code + " " + f.Subject());
  EXPECT_EQ(codes, (std::vector<std::string>{"UNSUPPORTED_OBJECT p", "UNSUPPORTED_OBJECT trg"}));
}

TEST(MergeCorpusTest, CleanMergesMatchTheResultAndConflictsSayWhy) {
  ASSERT_TRUE(Scratch::Get().ok());
  auto cases = scion::testing::ReadCases(TestData() / "merge.test");
  ASSERT_GE(cases.size(), 1u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto base = LoadSchema("merge_base", c.blocks.at("base"));
    auto ours = LoadSchema("merge_ours", c.blocks.at("ours"));
    auto theirs = LoadSchema("merge_theirs", c.blocks.at("theirs"));
    ASSERT_TRUE(base && ours && theirs) << "loading failed";
    auto merged = Merge(*base, *ours, *theirs);
    if (c.Has("conflict")) {
      std::string want = c.blocks.at("conflict");
      while (!want.empty() && (want.back() == '\n' || want.back() == ' ')) want.pop_back();
      ASSERT_FALSE(merged.clean()) << "expected a conflict";
      std::string all;
      for (const auto& x : merged.conflicts) all += Lower(x) + "\n";
      EXPECT_NE(all.find(Lower(want)), std::string::npos) << "conflicts:\n" << all << "want: " << want;
      continue;
    }
    ASSERT_TRUE(merged.clean()) << merged.conflicts[0];
    auto result = LoadSchema("merge_result", c.blocks.at("result"));
    ASSERT_TRUE(result);
    // The statements turn theirs into the expected result on a real instance.
    ASSERT_TRUE(Scratch::Get().Load("merge_apply", c.blocks.at("theirs")));
    auto applied = Scratch::Get().Apply("merge_apply", merged.statements);
    ASSERT_TRUE(applied) << applied.error().message << "\n" << Describe(merged.statements);
    auto after = Introspect(Scratch::Get().conn(), "merge_apply");
    ASSERT_TRUE(after);
    EXPECT_TRUE(after->SameAs(*result)) << "statements:\n" << Describe(merged.statements) << "still differs by:\n"
                                        << Describe(Diff(*after, *result));
  }
}

TEST(LintCorpusTest, FindingsMatch) {
  ASSERT_TRUE(Scratch::Get().ok());
  auto cases = scion::testing::ReadCases(TestData() / "lint.test");
  ASSERT_GE(cases.size(), 1u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto from = LoadSchema("lint_from", c.blocks.at("from"));
    auto to = LoadSchema("lint_to", c.blocks.at("to"));
    ASSERT_TRUE(from && to) << "loading failed";
    std::vector<std::string> got, want;
    for (const auto& f : Lint(*from, *to)) got.push_back(f.code + " " + f.Subject());
    std::istringstream in(c.blocks.at("findings"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.find_first_not_of(" \t") != std::string::npos) want.push_back(line);
    }
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
  }
}

}  // namespace
}  // namespace scion::schema
