// Integration tests: a real mariadbd from the fleet, changes made with SQL, read back through
// the change stream and compared with what SELECT returns.
#include "binlog/stream.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "base/crypto.h"
#include "fleet/scratch.h"
#include "mysql/admin_connection.h"

namespace scion::binlog {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Captured {
  std::string gtid;
  std::string table;
  RowOp op;
  std::vector<Value> before, after;
  std::vector<std::string> names;
};

// Collects everything; stops after `stop_after_commits` commits (0 = never).
class Collector : public ChangeHandler {
 public:
  bool OnBegin(const TransactionInfo&) override { return true; }
  bool OnRow(const RowChange& c) override {
    Captured cap{c.tx->gtid, c.table->table, c.op, *c.before, *c.after, {}};
    for (const auto& col : c.table->columns) cap.names.push_back(col.name);
    rows.push_back(std::move(cap));
    return true;
  }
  bool OnDdl(const DdlChange& d) override {
    ddl.push_back(d.sql);
    return true;
  }
  bool OnCommit(const TransactionInfo& tx, const std::string& position) override {
    commits.push_back(tx.gtid);
    last_position = position;
    return stop_after_commits == 0 || commits.size() < stop_after_commits;
  }
  std::vector<Captured> rows;
  std::vector<std::string> ddl, commits;
  std::string last_position;
  std::size_t stop_after_commits = 0;
};

class StreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto scratch = fleet::ScratchInstance::Start(
        {.database = "app", .server_id = 77, .supervise_interval = 50ms, .max_backoff = 500ms});
    ASSERT_TRUE(scratch) << scratch.error().message;
    scratch_ = scratch->release();
  }
  static void TearDownTestSuite() { delete scratch_; }

  std::unique_ptr<mysql::AdminConnection> Sql() {
    for (int i = 0; i < 200; ++i) {
      auto c = scratch_->Connect("app");
      if (c) {
        EXPECT_TRUE((*c)->Execute("SET time_zone = '+00:00'"));
        return std::move(*c);
      }
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "cannot connect";
    return nullptr;
  }

  std::string Position() {
    auto rows = Sql()->Query("SELECT @@gtid_binlog_pos");
    return rows->rows[0][0].value_or("");
  }

  StreamOptions Options(std::optional<std::string> from) {
    const auto& a = scratch_->accounts().internal;
    StreamOptions o;
    o.endpoint = scratch_->socket_path();
    o.user = a.user;
    o.password = a.password;
    o.start_position = std::move(from);
    o.schemas = {"app"};
    o.heartbeat = 200ms;
    return o;
  }

  // Streams from `from` until `commits` transactions arrived.
  Collector Collect(const std::string& from, std::size_t commits, std::set<std::string> tables = {},
                    bool skip_marked = false) {
    Collector c;
    c.stop_after_commits = commits;
    auto opts = Options(from);
    opts.tables = std::move(tables);
    opts.skip_marked = skip_marked;
    BinlogStream stream(opts);
    std::thread guard([&] {
      for (int i = 0; i < 600 && c.commits.size() < commits; ++i) std::this_thread::sleep_for(100ms);
      stream.Stop();
    });
    auto st = stream.Run(c);
    guard.join();
    EXPECT_TRUE(st) << st.error().message;
    EXPECT_EQ(c.commits.size(), commits);
    return c;
  }

  static fleet::ScratchInstance* scratch_;
};
fleet::ScratchInstance* StreamTest::scratch_ = nullptr;

// How to read one column back with SELECT for comparison, and how to compare.
enum class Compare { kText, kHex, kFloat, kDouble };
struct ColumnCheck {
  std::string name;
  std::string type;
  Compare cmp = Compare::kText;
  std::string select_expr;  // default: the column
};

struct TypeCase {
  std::string table;
  std::vector<ColumnCheck> columns;
  std::vector<std::string> rows;  // VALUES tuples without the id
};

std::string Canonical(const Value& v, Compare cmp) {
  if (v.is_null()) return "NULL";
  if (cmp == Compare::kHex) {
    std::string hex;
    static const char* d = "0123456789ABCDEF";
    for (unsigned char ch : v.s) {
      hex += d[ch >> 4];
      hex += d[ch & 15];
    }
    return hex;
  }
  return v.ToCanonical();
}

void RunTypeCase(StreamTest* test, mysql::AdminConnection& sql, const TypeCase& tc,
                 const std::function<Collector(const std::string&, std::size_t)>& collect,
                 const std::function<std::string()>& position) {
  std::string ddl = "CREATE TABLE " + tc.table + " (id INT PRIMARY KEY AUTO_INCREMENT";
  std::string cols, select = "SELECT ";
  for (std::size_t i = 0; i < tc.columns.size(); ++i) {
    const auto& c = tc.columns[i];
    ddl += ", " + c.name + " " + c.type;
    cols += (i ? ", " : "") + c.name;
    std::string expr = c.select_expr.empty() ? c.name : c.select_expr;
    if (c.cmp == Compare::kHex && c.select_expr.empty()) expr = "HEX(" + c.name + ")";
    select += (i ? ", " : "") + expr;
  }
  ddl += ")";
  ASSERT_TRUE(sql.Execute(ddl)) << ddl;
  std::string from = position();
  for (const auto& r : tc.rows) {
    auto st = sql.Execute("INSERT INTO " + tc.table + " (" + cols + ") VALUES " + r);
    ASSERT_TRUE(st) << st.error().message;
  }
  auto got = collect(from, tc.rows.size());
  auto want = sql.Query(select + " FROM " + tc.table + " ORDER BY id");
  ASSERT_TRUE(want);
  ASSERT_EQ(got.rows.size(), want->rows.size()) << tc.table;
  for (std::size_t r = 0; r < got.rows.size(); ++r) {
    const auto& row = got.rows[r];
    EXPECT_EQ(row.op, RowOp::kInsert);
    ASSERT_EQ(row.after.size(), tc.columns.size() + 1);
    for (std::size_t c = 0; c < tc.columns.size(); ++c) {
      const auto& check = tc.columns[c];
      EXPECT_EQ(row.names[c + 1], check.name);
      const Value& v = row.after[c + 1];
      std::string expected = want->rows[r][c].value_or("NULL");
      std::string context = tc.table + "." + check.name + " row " + std::to_string(r + 1);
      if (!v.is_null() && check.cmp == Compare::kFloat) {
        EXPECT_EQ(static_cast<float>(v.d), std::strtof(expected.c_str(), nullptr)) << context;
      } else if (!v.is_null() && check.cmp == Compare::kDouble) {
        EXPECT_EQ(v.d, std::strtod(expected.c_str(), nullptr)) << context;
      } else {
        EXPECT_EQ(Canonical(v, check.cmp), expected) << context;
      }
    }
  }
  (void)test;
}

TEST_F(StreamTest, EveryColumnTypeDecodesAsSelectShowsIt) {
  auto sql = Sql();
  ASSERT_TRUE(sql);
  std::vector<TypeCase> cases = {
      {"t_int",
       {{"ti", "TINYINT"}, {"tu", "TINYINT UNSIGNED"}, {"si", "SMALLINT"}, {"su", "SMALLINT UNSIGNED"},
        {"y", "YEAR", Compare::kText, "y+0"}, {"mi", "MEDIUMINT"}, {"mu", "MEDIUMINT UNSIGNED"}, {"i", "INT"},
        {"iu", "INT UNSIGNED"}, {"bi", "BIGINT"}, {"bu", "BIGINT UNSIGNED"}},
       {"(-128, 255, -32768, 65535, 2155, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, "
        "18446744073709551615)",
        "(127, 0, 32767, 0, 1901, 8388607, 0, 2147483647, 0, 9223372036854775807, 0)",
        "(0, 1, -1, 1, 0, -1, 1, -1, 1, -1, 1)",
        "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"}},
      {"t_real",
       {{"f", "FLOAT", Compare::kFloat}, {"d", "DOUBLE", Compare::kDouble},
        {"d1", "DECIMAL(65,30)"}, {"d2", "DECIMAL(10,4)"}, {"d3", "DECIMAL(5,0) UNSIGNED"}, {"d4", "DECIMAL(9,9)"},
        {"d5", "DECIMAL(18,9)"}, {"d6", "DECIMAL(1,0)"}},
       {"(3.25, 0.1, 12345678901234567890123456789012345.123456789012345678901234567890, 1234.5678, 99999, "
        "0.123456789, -123456789.987654321, -9)",
        "(-1.5e10, -1.7976931348623157e308, -99999999999999999999999999999999999.999999999999999999999999999999, "
        "-0.0001, 0, -0.000000001, 0.000000001, 0)",
        "(0, 2.2250738585072014e-308, 0, 0, 1, 0, 999999999.999999999, 5)"}},
      {"t_time",
       {{"dt", "DATE"}, {"t0", "TIME"}, {"t3", "TIME(3)"}, {"t6", "TIME(6)"}, {"t1", "TIME(1)"},
        {"dt0", "DATETIME"}, {"dt2", "DATETIME(2)"}, {"dt6", "DATETIME(6)"}, {"ts0", "TIMESTAMP NULL"},
        {"ts4", "TIMESTAMP(4) NULL"}, {"ts6", "TIMESTAMP(6) NULL"}},
       {"('2024-02-29', '-838:59:59', '838:59:59.999', '-00:00:00.000001', '-12:34:56.7', '1000-01-01 00:00:00', "
        "'9999-12-31 23:59:59.99', '2024-01-02 03:04:05.123456', '1970-01-01 00:00:01', "
        "'2038-01-19 03:14:07.9999', '2024-06-30 12:00:00.000001')",
        "('0000-00-00', '00:00:00', '-00:00:00.001', '12:00:00.5', '00:00:00.1', '0000-00-00 00:00:00', "
        "'2000-02-29 23:59:59.01', '2024-12-31 23:59:59.999999', '0000-00-00 00:00:00', NULL, "
        "'2001-09-09 01:46:40')"}},
      {"t_fsp",
       {{"t2", "TIME(2)"}, {"t4", "TIME(4)"}, {"t5", "TIME(5)"}, {"d1", "DATETIME(1)"}, {"d3", "DATETIME(3)"},
        {"d4", "DATETIME(4)"}, {"d5", "DATETIME(5)"}, {"s1", "TIMESTAMP(1) NULL"}, {"s2", "TIMESTAMP(2) NULL"},
        {"s3", "TIMESTAMP(3) NULL"}, {"s5", "TIMESTAMP(5) NULL"}},
       {"('-01:02:03.45', '23:59:59.9999', '-838:59:58.99999', '2020-01-01 00:00:00.1', '1999-12-31 23:59:59.999', "
        "'2024-02-29 12:34:56.0001', '2024-02-29 12:34:56.00001', '2000-01-01 00:00:00.9', '2000-01-01 00:00:00.01', "
        "'2030-05-05 05:05:05.555', '2010-10-10 10:10:10.12345')",
        "('-00:00:00.01', '-00:00:00.0001', '00:00:00.00001', '1000-01-01 00:00:00.0', '9999-12-31 23:59:59.999', "
        "'2024-01-01 00:00:00.9999', '2024-01-01 00:00:00.99999', NULL, NULL, NULL, NULL)"}},
      {"t_str",
       {{"c", "CHAR(10)", Compare::kHex}, {"cu", "CHAR(255) CHARACTER SET utf8mb4", Compare::kHex},
        {"v", "VARCHAR(20)", Compare::kHex}, {"vl", "VARCHAR(300) CHARACTER SET latin1", Compare::kHex},
        {"vu", "VARCHAR(100) CHARACTER SET utf8mb4", Compare::kText}, {"b", "BINARY(8)", Compare::kHex},
        {"vb", "VARBINARY(300)", Compare::kHex}},
       {"('abc', 'ünïcødé ☃', 'x', 'caf\xe9', '日本語テキスト 🎉', 'ab', 'raw')",
        "('', '', '', '', '', '', '')",
        "('trailing  ', REPEAT('é', 255), REPEAT('z', 20), REPEAT('q', 300), 'end', x'0001000200', "
        "REPEAT(x'00ff', 150))"}},
      {"t_lob",
       {{"tb", "TINYBLOB", Compare::kHex}, {"bl", "BLOB", Compare::kHex}, {"mb", "MEDIUMBLOB", Compare::kHex},
        {"lb", "LONGBLOB", Compare::kHex}, {"tt", "TINYTEXT", Compare::kHex}, {"tx", "TEXT", Compare::kHex},
        {"mt", "MEDIUMTEXT", Compare::kHex}, {"lt", "LONGTEXT", Compare::kText}, {"j", "JSON", Compare::kText}},
       {"('a', REPEAT('b', 70000), REPEAT('c', 100000), REPEAT('d', 300000), 't', 'text', 'm', 'long', "
        "'{\"k\": [1, 2, {\"x\": null}]}')",
        "('', '', '', '', '', '', '', '', '[]')"}},
      {"t_misc",
       {{"e", "ENUM('small','medium','large')"}, {"s", "SET('a','b','c','d')"},
        {"b1", "BIT(1)", Compare::kText, "b1+0"}, {"b9", "BIT(9)", Compare::kText, "b9+0"},
        {"b64", "BIT(64)", Compare::kText, "b64+0"}, {"g", "GEOMETRY", Compare::kHex},
        {"p", "POINT", Compare::kHex}},
       {"('medium', 'a,c', b'1', b'100000001', x'ffffffffffffffff', ST_GeomFromText('LINESTRING(0 0, 1 1, 2 3)'), "
        "ST_GeomFromText('POINT(1.5 -2.5)'))",
        "('', '', b'0', b'0', x'0000000000000001', NULL, NULL)",
        "('large', 'a,b,c,d', NULL, b'111111111', x'8000000000000000', ST_GeomFromText('POINT(0 0)'), "
        "ST_GeomFromText('POINT(3 4)'))"}},
  };
  ASSERT_TRUE(sql->Execute("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"));
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.table);
    RunTypeCase(this, *sql, tc, [this](const std::string& from, std::size_t n) { return Collect(from, n); },
                [this] { return Position(); });
  }
}

TEST_F(StreamTest, UpdatesDeletesAndMultiRowTransactions) {
  auto sql = Sql();
  ASSERT_TRUE(sql->Execute("CREATE TABLE acct (id INT PRIMARY KEY, owner VARCHAR(20), balance DECIMAL(10,2))"));
  std::string from = Position();
  ASSERT_TRUE(sql->Execute("INSERT INTO acct VALUES (1, 'ann', 10.00), (2, 'bob', 20.50)"));
  ASSERT_TRUE(sql->Execute("BEGIN"));
  ASSERT_TRUE(sql->Execute("UPDATE acct SET balance = balance - 5 WHERE id = 1"));
  ASSERT_TRUE(sql->Execute("UPDATE acct SET balance = balance + 5, id = 20 WHERE id = 2"));
  ASSERT_TRUE(sql->Execute("DELETE FROM acct WHERE id = 1"));
  ASSERT_TRUE(sql->Execute("COMMIT"));
  // A rolled-back transaction leaves nothing in the stream.
  ASSERT_TRUE(sql->Execute("BEGIN"));
  ASSERT_TRUE(sql->Execute("INSERT INTO acct VALUES (99, 'ghost', 0)"));
  ASSERT_TRUE(sql->Execute("ROLLBACK"));
  ASSERT_TRUE(sql->Execute("INSERT INTO acct VALUES (3, 'cy', 1)"));
  auto got = Collect(from, 3);
  ASSERT_EQ(got.rows.size(), 6u);
  EXPECT_EQ(got.rows[0].op, RowOp::kInsert);
  EXPECT_EQ(got.rows[0].gtid, got.rows[1].gtid);
  EXPECT_EQ(got.rows[2].op, RowOp::kUpdate);
  EXPECT_EQ(got.rows[2].before[2].ToCanonical(), "10.00");
  EXPECT_EQ(got.rows[2].after[2].ToCanonical(), "5.00");
  EXPECT_EQ(got.rows[3].before[0].ToCanonical(), "2");
  EXPECT_EQ(got.rows[3].after[0].ToCanonical(), "20");  // primary key change: before and after
  EXPECT_EQ(got.rows[4].op, RowOp::kDelete);
  EXPECT_TRUE(got.rows[4].after.empty());
  EXPECT_EQ(got.rows[4].before[1].ToCanonical(), "ann");
  EXPECT_EQ(got.rows[5].after[1].ToCanonical(), "cy");
  EXPECT_EQ(got.rows[2].gtid, got.rows[4].gtid);
  EXPECT_NE(got.rows[5].gtid, got.rows[4].gtid);
}

TEST_F(StreamTest, LargeTransactionsAndRowsAbove16MB) {
  auto sql = Sql();
  ASSERT_TRUE(sql->Execute("CREATE TABLE bulk (id INT PRIMARY KEY, v VARCHAR(50))"));
  ASSERT_TRUE(sql->Execute("CREATE TABLE huge (id INT PRIMARY KEY, data LONGBLOB)"));
  std::string from = Position();
  ASSERT_TRUE(sql->Execute("INSERT INTO bulk SELECT seq, CONCAT('row-', seq) FROM seq_1_to_20000"));
  ASSERT_TRUE(sql->Execute("INSERT INTO huge VALUES (1, REPEAT('x', 20 * 1024 * 1024))"));
  auto got = Collect(from, 2);
  ASSERT_EQ(got.rows.size(), 20001u);
  EXPECT_EQ(got.rows[19999].after[1].ToCanonical(), "row-20000");
  const auto& big = got.rows[20000].after[1];
  EXPECT_EQ(big.s.size(), 20u * 1024 * 1024);
  EXPECT_EQ(big.s.find_first_not_of('x'), std::string::npos);
}

TEST_F(StreamTest, DdlIsSurfacedAndTableFilterApplies) {
  auto sql = Sql();
  std::string from = Position();
  ASSERT_TRUE(sql->Execute("CREATE TABLE ddl_t (id INT PRIMARY KEY)"));
  ASSERT_TRUE(sql->Execute("CREATE TABLE other_t (id INT PRIMARY KEY)"));
  ASSERT_TRUE(sql->Execute("INSERT INTO other_t VALUES (1)"));
  ASSERT_TRUE(sql->Execute("ALTER TABLE ddl_t ADD COLUMN name VARCHAR(10)"));
  ASSERT_TRUE(sql->Execute("INSERT INTO ddl_t VALUES (1, 'n')"));
  Collector c;
  c.stop_after_commits = 5;
  auto opts = Options(from);
  opts.tables = {"ddl_t"};
  BinlogStream stream(opts);
  ASSERT_TRUE(stream.Run(c));
  ASSERT_EQ(c.ddl.size(), 3u);
  EXPECT_NE(c.ddl[0].find("CREATE TABLE ddl_t"), std::string::npos);
  EXPECT_NE(c.ddl[2].find("ADD COLUMN name"), std::string::npos);
  ASSERT_EQ(c.rows.size(), 1u);  // other_t's row is filtered out
  EXPECT_EQ(c.rows[0].table, "ddl_t");
  EXPECT_EQ(c.rows[0].names[1], "name");
}

TEST_F(StreamTest, MarkedTransactionsAreBinloggedButNotSentWhenAsked) {
  auto sql = Sql();
  ASSERT_TRUE(sql->Execute("CREATE TABLE marked (id INT PRIMARY KEY)"));
  std::string from = Position();
  ASSERT_TRUE(sql->Execute("INSERT INTO marked VALUES (1)"));
  ASSERT_TRUE(sql->Execute("SET SESSION skip_replication = 1"));
  ASSERT_TRUE(sql->Execute("INSERT INTO marked VALUES (2), (3)"));
  ASSERT_TRUE(sql->Execute("SET SESSION skip_replication = 0"));
  ASSERT_TRUE(sql->Execute("INSERT INTO marked VALUES (4)"));
  // A plain replica (and so a replica or point-in-time recovery) gets all three transactions.
  auto all = Collect(from, 3, {"marked"});
  ASSERT_EQ(all.rows.size(), 4u);
  // With skip_marked the server leaves the marked one out: two commits, the rows 1 and 4.
  auto c = Collect(from, 2, {"marked"}, /*skip_marked=*/true);
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[0].after[0].ToCanonical(), "1");
  EXPECT_EQ(c.rows[1].after[0].ToCanonical(), "4");
  EXPECT_EQ(c.commits, (std::vector<std::string>{all.commits[0], all.commits[2]}));
}

TEST_F(StreamTest, ResumesFromSavedPositionWithoutLossOrDuplicates) {
  auto sql = Sql();
  ASSERT_TRUE(sql->Execute("CREATE TABLE seqs (id INT PRIMARY KEY)"));
  std::string from = Position();
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(sql->Execute("INSERT INTO seqs VALUES (" + std::to_string(i) + ")"));
  auto first = Collect(from, 4);
  ASSERT_EQ(first.rows.size(), 4u);
  auto second = Collect(first.last_position, 6);
  ASSERT_EQ(second.rows.size(), 6u);
  std::vector<std::string> ids;
  for (auto* part : {&first, &second}) {
    for (const auto& r : part->rows) ids.push_back(r.after[0].ToCanonical());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}));
}

TEST_F(StreamTest, PurgedPositionIsReportedClearly) {
  auto sql = Sql();
  ASSERT_TRUE(sql->Execute("CREATE TABLE purge_t (id INT PRIMARY KEY)"));
  ASSERT_TRUE(sql->Execute("INSERT INTO purge_t VALUES (1)"));
  std::string old = Position();
  ASSERT_TRUE(sql->Execute("INSERT INTO purge_t VALUES (2)"));
  ASSERT_TRUE(sql->Execute("FLUSH BINARY LOGS"));
  auto current = sql->Query("SHOW MASTER STATUS");
  ASSERT_TRUE(current);
  // MariaDB keeps a file until its binlog checkpoint has passed: retry until only one is left.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(sql->Execute("PURGE BINARY LOGS TO '" + *current->rows[0][0] + "'"));
    if (sql->Query("SHOW BINARY LOGS")->rows.size() == 1) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(sql->Query("SHOW BINARY LOGS")->rows.size(), 1u);
  // A position older than everything left: the binlog files holding what follows it are gone.
  auto parsed = ParseGtidPosition(old);
  ASSERT_TRUE(parsed);
  auto& g = parsed->begin()->second;
  g.seq -= 1;
  Collector c;
  BinlogStream stream(Options(FormatGtidPosition(*parsed)));
  std::atomic<bool> done{false};
  std::thread guard([&] {
    for (int i = 0; i < 100 && !done; ++i) std::this_thread::sleep_for(100ms);
    stream.Stop();
  });
  auto st = stream.Run(c);
  done = true;
  guard.join();
  EXPECT_TRUE(c.rows.empty()) << c.rows.size() << " rows, first " << (c.rows.empty() ? "" : c.rows[0].gtid);
  ASSERT_FALSE(st) << "position " << FormatGtidPosition(*parsed) << " old " << old;
  EXPECT_EQ(st.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(st.error().message.find("no longer holds"), std::string::npos) << st.error().message;
}

TEST_F(StreamTest, SurvivesInstanceRestartWithNothingLostOrRepeated) {
  auto sql = Sql();
  ASSERT_TRUE(sql->Execute("CREATE TABLE crash_t (id INT PRIMARY KEY)"));
  std::string from = Position();
  Collector c;
  c.stop_after_commits = 6;
  auto opts = Options(from);
  opts.max_backoff = 300ms;
  BinlogStream stream(opts);
  std::thread runner([&] { EXPECT_TRUE(stream.Run(c)); });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(sql->Execute("INSERT INTO crash_t VALUES (" + std::to_string(i) + ")"));
  for (int i = 0; i < 100 && c.commits.size() < 3; ++i) std::this_thread::sleep_for(50ms);
  int pid = scratch_->fleet().GetStatus(fleet::ScratchInstance::kId).pid;
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);
  sql.reset();
  for (int i = 0; i < 400 && (scratch_->fleet().GetStatus(fleet::ScratchInstance::kId).state != fleet::InstanceState::kRunning ||
                              scratch_->fleet().GetStatus(fleet::ScratchInstance::kId).pid == pid);
       ++i) {
    std::this_thread::sleep_for(50ms);
  }
  sql = Sql();
  ASSERT_TRUE(sql);
  for (int i = 4; i <= 6; ++i) ASSERT_TRUE(sql->Execute("INSERT INTO crash_t VALUES (" + std::to_string(i) + ")"));
  std::thread guard([&] {
    for (int i = 0; i < 300 && c.commits.size() < 6; ++i) std::this_thread::sleep_for(100ms);
    stream.Stop();
  });
  runner.join();
  guard.join();
  std::vector<std::string> ids;
  for (const auto& r : c.rows) ids.push_back(r.after[0].ToCanonical());
  EXPECT_EQ(ids, (std::vector<std::string>{"1", "2", "3", "4", "5", "6"}));
  EXPECT_GE(stream.stats().reconnects, 1u);
}

}  // namespace
}  // namespace scion::binlog
