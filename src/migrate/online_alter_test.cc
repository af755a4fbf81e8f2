#include "migrate/online_alter.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "binlog/stream.h"
#include "fleet/scratch.h"
#include "schema/introspect.h"

namespace scion::migrate {
namespace {

using namespace std::chrono_literals;

// Inserts, updates, deletes (also of rows a copy has not reached) and primary key changes, each
// applied to `t` and to `control` in one transaction, until stopped.
std::vector<std::string> testing_split(const std::string& sql) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < sql.size()) {
    auto end = sql.find("; ", start);
    out.push_back(sql.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 2;
  }
  return out;
}

class Storm {
 public:
  // Each transaction applies one statement to every table of `tables`.
  Storm(fleet::ScratchInstance& instance, int id_range, int first_new_id,
        std::vector<std::string> tables = {"t", "control"}) {
    thread_ = std::thread([&instance, this, id_range, first_new_id, tables] {
      auto c = instance.Connect("shop");
      if (!c) {
        ++errors;
        return;
      }
      std::mt19937 rng(42);
      int next_id = first_new_id;
      while (!stop_) {
        int id = 1 + static_cast<int>(rng() % id_range);
        std::string stmt;
        switch (rng() % 5) {
          case 0:
            stmt = fmt::format("INSERT INTO {{}} (id, k, v) VALUES ({}, {}, 'new')", next_id, next_id);
            ++next_id;
            break;
          case 1:
            stmt = fmt::format("UPDATE {{}} SET k = k + 1, v = CONCAT('u', {}) WHERE id = {}", rng() % 1000, id);
            break;
          case 2:
            stmt = fmt::format("DELETE FROM {{}} WHERE id = {}", id);
            break;
          case 3:
            stmt = fmt::format("UPDATE {{}} SET id = {} WHERE id = {}", next_id++, id);
            break;
          default:
            stmt = fmt::format("DELETE FROM {{}} WHERE id BETWEEN {} AND {}", id, id + 3);
        }
        auto t0 = std::chrono::steady_clock::now();
        Status st = (*c)->Execute("BEGIN");
        for (const auto& table : tables) {
          if (st) st = (*c)->Execute(fmt::format(fmt::runtime(stmt), table));
        }
        if (st) st = (*c)->Execute("COMMIT");
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
        long long prev = max_latency_us.load();
        while (us > prev && !max_latency_us.compare_exchange_weak(prev, us)) {
        }
        if (!st) {
          ++errors;
          last_error = st.error().message;
          (void)(*c)->Execute("ROLLBACK");
        }
        ++writes;
      }
    });
  }
  ~Storm() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::atomic<int> writes{0};
  int errors = 0;
  std::string last_error;  // read after Stop()
  std::atomic<long long> max_latency_us{0};

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class OnlineAlterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto instance = fleet::ScratchInstance::Start({.database = "shop"});
    ASSERT_TRUE(instance.has_value()) << instance.error().ToString();
    instance_ = std::move(*instance).release();
  }
  static void TearDownTestSuite() {
    delete instance_;
    instance_ = nullptr;
  }

  void SetUp() override {
    auto c = instance_->Connect("shop");
    ASSERT_TRUE(c.has_value()) << c.error().ToString();
    conn_ = std::move(*c);
    auto tables = conn_->Query("SHOW TABLES");
    ASSERT_TRUE(tables.has_value());
    for (const auto& row : tables->rows) Exec(fmt::format("DROP TABLE `{}`", *row[0]));
  }

  void Exec(const std::string& sql) {
    auto st = conn_->Execute(sql);
    ASSERT_TRUE(st.has_value()) << sql << ": " << st.error().ToString();
  }
  std::string Scalar(const std::string& sql) {
    auto r = conn_->Query(sql);
    EXPECT_TRUE(r.has_value()) << sql;
    if (!r || r->rows.empty() || !r->rows[0][0]) return "NULL";
    return *r->rows[0][0];
  }

  AlterOptions Options() const {
    AlterOptions o;
    o.connect = instance_->InternalConnectOptions();
    o.chunk_target = 50ms;
    o.initial_chunk_rows = 200;
    o.cutover_backoff = 100ms;
    return o;
  }

  // Plans the change of `table` from its current definition to `target_sql` (a CREATE TABLE of
  // the same table, in a scratch schema).
  TablePlan Plan(const std::string& table, const std::string& target_sql) {
    Exec("DROP DATABASE IF EXISTS target_def");
    Exec("CREATE DATABASE target_def");
    Exec("USE target_def");
    Exec(target_sql);
    Exec("USE shop");
    auto from = schema::Introspect(*conn_, "shop");
    auto to = schema::Introspect(*conn_, "target_def");
    EXPECT_TRUE(from && to);
    auto plan = PlanTable(*conn_, "shop", from->tables.at(table), to->tables.at(table));
    EXPECT_TRUE(plan.has_value()) << plan.error().ToString();
    return *plan;
  }

  // `t (id, k, v)` with `rows` rows, and `control`, a copy that tests write to alongside `t`.
  void TableAndControl(int rows) {
    for (const char* table : {"t", "control"}) {
      Exec(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, v VARCHAR(64))", table));
    }
    Exec(fmt::format("INSERT INTO t SELECT seq, seq, MD5(seq) FROM seq_1_to_{}", rows));
    Exec("INSERT INTO control SELECT * FROM t");
  }

  // How many tables of `shop` have a name LIKE `pattern` (leftovers of a change).
  std::string TablesLike(const std::string& pattern) {
    return Scalar(fmt::format("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND "
                              "TABLE_NAME LIKE {}",
                              mysql::QuoteString(pattern)));
  }

  // The checksum of `columns` of a table, row by row in key order.
  std::string Checksum(const std::string& table, const std::string& columns) {
    return Scalar(fmt::format("SELECT CONCAT(COUNT(*), '/', COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', {0}))), 0)) FROM {1}",
                              columns, table));
  }

  // The table's definition now is the plan's target, secondary indexes included.
  void ExpectDefinitionIsTarget(const TablePlan& plan) {
    auto now = schema::Introspect(*conn_, "shop");
    ASSERT_TRUE(now.has_value());
    ASSERT_TRUE(now->tables.count(plan.table));
    EXPECT_TRUE(now->tables.at(plan.table).SameAs(plan.to)) << now->tables.at(plan.table).create_sql << "\nwanted:\n"
                                                            << plan.to.create_sql;
  }

  static fleet::ScratchInstance* instance_;
  std::unique_ptr<mysql::AdminConnection> conn_;
};

fleet::ScratchInstance* OnlineAlterTest::instance_ = nullptr;

TEST_F(OnlineAlterTest, LongStatementsNeedTheLongReadTimeout) {
  // The copy's connections and the index build's allow long replies; the default does not (a
  // build of a big table's index was cut off after 5 s as "Lost connection").
  auto o = instance_->InternalConnectOptions();
  o.timeout = 1000ms;
  auto short_wait = mysql::AdminConnection::Connect(o);
  ASSERT_TRUE(short_wait.has_value());
  auto cut = (*short_wait)->Query("SELECT SLEEP(2.5)");
  ASSERT_FALSE(cut.has_value());
  EXPECT_EQ(cut.error().code, ErrorCode::kBackendUnavailable) << cut.error().ToString();
  o.read_timeout = 0ms;
  auto long_wait = mysql::AdminConnection::Connect(o);
  ASSERT_TRUE(long_wait.has_value());
  auto slept = (*long_wait)->Query("SELECT SLEEP(2.5)");
  ASSERT_TRUE(slept.has_value()) << slept.error().ToString();
}

TEST_F(OnlineAlterTest, PlansInstantOrCopyWithTheReason) {
  Exec("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0)");
  auto add = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, note VARCHAR(20))");
  EXPECT_EQ(add.strategy, Strategy::kInstant) << add.reason;
  auto widen = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0)");
  EXPECT_EQ(widen.strategy, Strategy::kCopy);
  EXPECT_NE(widen.reason.find("INSTANT"), std::string::npos) << widen.reason;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME LIKE '\\_scion\\_plan%'"), "0");
  ASSERT_TRUE(ApplyInstant(*conn_, add).has_value());
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_NAME = 't' AND TABLE_SCHEMA = 'shop'"),
            "3");
}

TEST_F(OnlineAlterTest, CopiesEveryColumnTypeAndCutsOver) {
  Exec(R"(CREATE TABLE t (
    id BIGINT UNSIGNED PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, i INT NOT NULL DEFAULT 0,
    dec1 DECIMAL(12,3), f FLOAT, d DOUBLE, b BIT(5), dt DATE, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP(2) NULL,
    y YEAR, c CHAR(5), vc VARCHAR(40), vb VARBINARY(16), tx TEXT, bl BLOB, e ENUM('a','b','c'), st SET('x','y'),
    j JSON, u VARCHAR(10) CHARACTER SET latin1))");
  Exec(R"(INSERT INTO t SELECT seq, CAST(seq AS SIGNED) % 128 - 64, seq, -CAST(seq AS SIGNED), seq * 7, seq / 7,
           seq / 3, seq / 9, seq % 32,
           '2024-01-01' + INTERVAL seq DAY, SEC_TO_TIME(seq), '2020-01-01 00:00:00.123456' + INTERVAL seq SECOND,
           '2021-06-01 10:00:00.5' + INTERVAL seq MINUTE, 1990 + seq % 100, LEFT(MD5(seq), 5),
           CONCAT('naïve ', seq, ' ✓'), UNHEX(MD5(seq)), REPEAT('x', seq % 300), UNHEX(SHA2(seq, 256)),
           ELT(1 + seq % 3, 'a', 'b', 'c'), IF(seq % 2, 'x,y', 'y'), JSON_OBJECT('n', seq), 'café'
         FROM seq_1_to_3000)");
  Exec("INSERT INTO t (id) VALUES (100000)");  // NULLs and defaults everywhere
  auto plan = Plan("t", R"(CREATE TABLE t (
    id BIGINT UNSIGNED PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, i BIGINT NOT NULL DEFAULT 0,
    dec1 DECIMAL(12,3), f FLOAT, d DOUBLE, b BIT(5), dt DATE, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP(2) NULL,
    y YEAR, c CHAR(5), vc VARCHAR(40), vb VARBINARY(16), tx TEXT, bl BLOB, e ENUM('a','b','c'), st SET('x','y'),
    j JSON, u VARCHAR(10) CHARACTER SET latin1, added INT NOT NULL DEFAULT 7, KEY k_i (i)))");
  ASSERT_EQ(plan.strategy, Strategy::kCopy);
  std::string cols = "id, ti, si, mi, i, dec1, f, d, b, dt, tm, dtm, ts, y, c, vc, HEX(vb), tx, HEX(bl), e, st, j, u";
  std::string before = Checksum("t", cols);

  OnlineAlter alter(Options(), plan);
  std::vector<int> percents;
  ASSERT_TRUE(alter.Copy([&](const Progress& p) { percents.push_back(p.percent()); }).has_value());
  ASSERT_TRUE(alter.Verify().has_value());
  ASSERT_TRUE(alter.CutOver().has_value());
  EXPECT_TRUE(alter.cut_over());
  EXPECT_GT(percents.size(), 1u);
  EXPECT_EQ(Checksum("t", cols), before);
  EXPECT_EQ(Checksum(alter.old_table(), cols), before);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM t WHERE added = 7"), "3001");
  ExpectDefinitionIsTarget(plan);
  EXPECT_EQ(Scalar("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 't' "
                   "AND COLUMN_NAME = 'i'"),
            "bigint");
  EXPECT_EQ(TablesLike("%\\_scion\\_new"), "0");
}

TEST_F(OnlineAlterTest, EveryColumnTypeThroughTheCatchUp) {
  std::string def = R"(id BIGINT PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, i INT NOT NULL DEFAULT 0,
    dec1 DECIMAL(12,3), f FLOAT, d DOUBLE, b BIT(5), dt DATE, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP(2) NULL,
    y YEAR, c CHAR(5), vc VARCHAR(40), vb VARBINARY(16), tx TEXT, bl BLOB, e ENUM('a','b','c'), st SET('x','y'),
    j JSON, u VARCHAR(10) CHARACTER SET latin1, g POINT NULL)";
  Exec("CREATE TABLE t (" + def + ")");
  Exec("CREATE TABLE control (" + def + ")");
  Exec(R"(INSERT INTO t (id, i, vc) SELECT seq, seq, CONCAT('r', seq) FROM seq_1_to_2000)");
  Exec("INSERT INTO control SELECT * FROM t");
  auto plan = Plan("t", "CREATE TABLE t (" + def + ", added INT NOT NULL DEFAULT 3)");
  OnlineAlter alter(Options(), plan);
  ASSERT_TRUE(alter.Copy().has_value());
  // Changes of every type after the copy reach the shadow only through the binlog catch-up.
  std::string set = R"(ti = -5, si = 65535, i = i + 1, dec1 = -123.456, f = 1.5, d = -2.25e100, b = b'10101',
    dt = '2031-12-31', tm = '-838:59:59.000', dtm = '2030-01-01 23:59:59.999999', ts = '2038-01-19 03:14:07.99',
    y = 2155, c = 'ü', vc = 'naïve ✓', vb = UNHEX('00FF10'), tx = REPEAT('é', 300), bl = UNHEX(REPEAT('AB', 500)),
    e = 'c', st = 'x,y', j = JSON_OBJECT('k', JSON_ARRAY(1, 'two')), u = 'café', g = POINT(1.5, -2))";
  for (const char* table : {"t", "control"}) {
    Exec(fmt::format("UPDATE {} SET {} WHERE id % 7 = 0", table, set));
    Exec(fmt::format("DELETE FROM {} WHERE id % 11 = 0", table));
    Exec(fmt::format("INSERT INTO {} (id, vc, ts, j) VALUES (5000, 'late', '2001-02-03 04:05:06.07', '[]')", table));
    Exec(fmt::format("UPDATE {} SET id = id + 10000 WHERE id % 13 = 0", table));
  }
  ASSERT_TRUE(alter.Verify().has_value());
  ASSERT_TRUE(alter.CutOver().has_value());
  std::string cols = "id, ti, si, i, dec1, f, d, b, dt, tm, dtm, ts, y, c, vc, HEX(vb), tx, HEX(bl), e, st, j, u, "
                     "ST_AsText(g)";
  EXPECT_EQ(Checksum("t", cols), Checksum("control", cols));
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM t WHERE added = 3"), Scalar("SELECT COUNT(*) FROM control"));
}

TEST_F(OnlineAlterTest, StringTemporalAndCompositePrimaryKeys) {
  struct Case {
    const char* def;
    const char* fill;
    const char* change;
    const char* cols;
  };
  const Case cases[] = {
      {"code VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PRIMARY KEY, n INT",
       "INSERT INTO {} SELECT CONCAT('ключ-', seq, '-é'), seq FROM seq_1_to_3000",
       "UPDATE {0} SET n = n + 1 WHERE n % 5 = 0; DELETE FROM {0} WHERE n % 9 = 0; "
       "UPDATE {0} SET code = CONCAT(code, '✓') WHERE n % 17 = 0",
       "code, n"},
      {"day DATETIME(3) PRIMARY KEY, n INT",
       "INSERT INTO {} SELECT '2020-01-01 00:00:00.001' + INTERVAL seq MINUTE, seq FROM seq_1_to_3000",
       "UPDATE {0} SET n = -n WHERE n % 4 = 0; DELETE FROM {0} WHERE n % 7 = 0", "day, n"},
      {"a INT, b VARBINARY(8), n INT, PRIMARY KEY (a, b)",
       "INSERT INTO {} SELECT seq % 50, UNHEX(LPAD(HEX(seq), 8, '0')), seq FROM seq_1_to_3000",
       "UPDATE {0} SET n = n * 2 WHERE n % 3 = 0; DELETE FROM {0} WHERE n % 11 = 0; UPDATE {0} SET a = a + 100 WHERE "
       "n % 19 = 0",
       "a, HEX(b), n"},
  };
  for (const auto& c : cases) {
    SetUp();
    Exec(fmt::format("CREATE TABLE t ({})", c.def));
    Exec(fmt::format("CREATE TABLE control ({})", c.def));
    Exec(fmt::format(fmt::runtime(c.fill), "t"));
    Exec("INSERT INTO control SELECT * FROM t");
    auto plan = Plan("t", fmt::format("CREATE TABLE t ({}, extra INT DEFAULT 1)", c.def));
    OnlineAlter alter(Options(), plan);
    ASSERT_TRUE(alter.Copy().has_value()) << c.def;
    for (const char* table : {"t", "control"}) {
      std::string sql = fmt::format(fmt::runtime(c.change), table);
      for (const auto& stmt : testing_split(sql)) Exec(stmt);
    }
    ASSERT_TRUE(alter.Verify().has_value()) << c.def;
    ASSERT_TRUE(alter.CutOver().has_value()) << c.def;
    EXPECT_EQ(Checksum("t", c.cols), Checksum("control", c.cols)) << c.def;
  }
}

// Run with the copy in the binlog (true) and out of it (AlterOptions::binlog_copy).
class OnlineAlterCopyBinlogTest : public OnlineAlterTest, public ::testing::WithParamInterface<bool> {};

// With the copy in the binlog, its chunks' commits order the catch-up behind the application's
// commits; without, a marker does (see OnlineAlter::Marker).
TEST_P(OnlineAlterCopyBinlogTest, ConcurrentWritesDuringCopyAndCutOverAreNeverLost) {
  TableAndControl(60000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), "
                        "extra INT DEFAULT NULL, KEY k (k), KEY v_k (v(10), k DESC))");

  Storm storm(*instance_, 70000, 100000);
  auto options = Options();
  options.binlog_copy = GetParam();
  // Both ways of building the deferred indexes under the storm: after the copy (chosen, as the
  // table fits in the pool) and alongside it from half-way (chosen for a table that does not).
  if (!GetParam()) options.index_build_at = 0.5;
  OnlineAlter alter(options, plan);
  auto copied = alter.Copy();
  auto verified = copied ? alter.Verify() : copied;
  auto cut = verified ? alter.CutOver() : verified;
  std::this_thread::sleep_for(300ms);  // writes after the cut-over land in the new table
  storm.Stop();
  ASSERT_TRUE(cut.has_value()) << cut.error().ToString();
  EXPECT_EQ(storm.errors, 0) << storm.last_error;
  EXPECT_GT(storm.writes.load(), 100);
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"))
      << "only in t: " << Scalar("SELECT GROUP_CONCAT(id) FROM t WHERE id NOT IN (SELECT id FROM control)")
      << "; only in control: " << Scalar("SELECT GROUP_CONCAT(id) FROM control WHERE id NOT IN (SELECT id FROM t)")
      << "; different: "
      << Scalar("SELECT GROUP_CONCAT(t.id) FROM t JOIN control c USING (id) WHERE NOT (t.k <=> c.k AND t.v <=> c.v)");
  EXPECT_LT(storm.max_latency_us.load(), 2'000'000) << "a write was held too long";
  ExpectDefinitionIsTarget(plan);
  RecordProperty("writes", storm.writes.load());
  RecordProperty("max_write_latency_us", static_cast<int>(storm.max_latency_us.load()));
}

TEST_P(OnlineAlterCopyBinlogTest, TheCopyIsInTheBinlogWhenAskedAndEndsWithNothingElseWriting) {
  TableAndControl(3000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64))");
  std::string from = Scalar("SELECT @@gtid_binlog_pos");
  auto options = Options();
  options.binlog_copy = GetParam();
  OnlineAlter alter(options, plan);
  // Nothing else writes: the binlog ends with copy transactions the follower is never sent (or
  // with none), and waiting for the follower to catch up must still end.
  auto started = std::chrono::steady_clock::now();
  auto copied = alter.Copy();
  ASSERT_TRUE(copied.has_value()) << copied.error().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM " + alter.shadow_table()), "3000");
  // What a replica (or a point-in-time recovery) reads: every row the copy wrote, or none.
  struct Counter : binlog::ChangeHandler {
    int rows = 0;
    bool OnRow(const binlog::RowChange& c) override {
      rows += c.op == binlog::RowOp::kInsert;
      return true;
    }
    bool OnIdle() override { return false; }  // a heartbeat: caught up
  } counter;
  const auto& o = Options().connect;
  binlog::BinlogStream stream({.endpoint = o.unix_socket, .user = o.user, .password = o.password,
                               .start_position = from, .schemas = {"shop"}, .tables = {alter.shadow_table()},
                               .heartbeat = 300ms});
  auto st = stream.Run(counter);
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  if (GetParam()) {
    EXPECT_GE(counter.rows, 3000);
  } else {
    EXPECT_EQ(counter.rows, 0) << "nothing else wrote, so no marker either";
  }
}

INSTANTIATE_TEST_SUITE_P(CopyBinlogged, OnlineAlterCopyBinlogTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "InTheBinlog" : "OutOfTheBinlog"; });

TEST_F(OnlineAlterTest, ChunksStayUnderTheByteCapOnATableJustFilled) {
  // Right after it is filled a table's statistics give no row length (AVG_ROW_LENGTH 0); the
  // cap on a chunk's bytes (a binlogged chunk's commit holds other commits up) holds all the same.
  Exec("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, v VARCHAR(2000))");
  Exec("INSERT INTO t SELECT seq, seq, REPEAT('x', 1000) FROM seq_1_to_5000");
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(2000))");
  auto options = Options();
  options.chunk_target = 10s;  // the time target alone would copy everything at once
  options.initial_chunk_rows = 10000;
  options.max_chunk_bytes = 100 << 10;
  OnlineAlter alter(options, plan);
  std::uint64_t last = 0, largest = 0;
  auto copied = alter.Copy([&](const Progress& p) {
    largest = std::max(largest, p.rows_copied - last);
    last = p.rows_copied;
  });
  ASSERT_TRUE(copied.has_value()) << copied.error().ToString();
  EXPECT_EQ(last, 5000u);
  EXPECT_LE(largest, 110u);  // about 100 rows of 1 KB
}

TEST_F(OnlineAlterTest, AnIndexBuildThatFailsDuringTheCopyIsBuiltAgainAfterIt) {
  TableAndControl(200000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), KEY k (k))");
  auto options = Options();
  options.index_build_at = 0.2;
  OnlineAlter alter(options, plan);
  // The build that starts at 20% is stopped while the copy goes on (as InnoDB stops one whose
  // online log of the rows inserted meanwhile outgrows innodb_online_alter_log_max_size).
  bool killed = false;
  auto copied = alter.Copy([&](const Progress& p) {
    if (killed || p.rows_copied < 40000) return;
    // The copy waits here, so the build (on its own thread) is found running.
    for (int i = 0; i < 400 && !killed; ++i) {
      auto id = Scalar("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE `t_scion_new`%'");
      if (id != "NULL") killed = conn_->Execute("KILL QUERY " + id).has_value();
      if (!killed) std::this_thread::sleep_for(5ms);
    }
  });
  ASSERT_TRUE(killed);
  auto verified = copied ? alter.Verify() : copied;
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_TRUE(alter.index_build_retried());
  ASSERT_TRUE(alter.CutOver());
  ExpectDefinitionIsTarget(plan);
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
}

TEST_F(OnlineAlterTest, IndexesAreBuiltAfterTheCopyWhenTableAndShadowFitInTheBufferPool) {
  // The scratch instance has a development branch's 32 MB pool.
  auto target =
      "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), pad CHAR(255), KEY k (k))";
  for (int rows : {2000, 80000}) {  // about 0.7 and 25 MB
    SetUp();
    Exec("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, v VARCHAR(64), pad CHAR(255))");
    Exec(fmt::format("INSERT INTO t SELECT seq, seq, MD5(seq), REPEAT('p', 255) FROM seq_1_to_{}", rows));
    Exec("ANALYZE TABLE t");
    OnlineAlter alter(Options(), Plan("t", target));
    ASSERT_TRUE(alter.Copy().has_value());
    EXPECT_EQ(alter.index_build_at(), rows == 2000 ? 1.0 : 0.5) << rows << " rows";
  }
  auto options = Options();
  options.index_build_at = 0.3;
  OnlineAlter alter(options, Plan("t", target));
  ASSERT_TRUE(alter.Copy().has_value());
  EXPECT_EQ(alter.index_build_at(), 0.3);  // as told
}

TEST_F(OnlineAlterTest, VerificationBehindTheCopyFindsAndRepairsADifference) {
  // The shadow is spoiled in a range just before the verification behind the copy compares it
  // (as a bug in the copy would): the range must be found, carried to Verify() and re-copied.
  // Two rows: one in v, one in k, whose type widens (INT to BIGINT) and is compared all the same.
  TableAndControl(30000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), KEY v (v))");
  auto options = Options();
  options.max_chunk_rows = 4000;
  options.verify_behind_copy = true;
  std::atomic<int> ranges{0};
  std::atomic<int> spoiled{0}, spoiled_k{0};
  options.on_behind_copy_range = [&](const std::string& lower, const std::string&) {
    ++ranges;
    if (spoiled_k.load() || lower.empty()) return;
    auto c = instance_->Connect("shop");
    ASSERT_TRUE(c.has_value());
    int id = std::stoi(lower) + 1;
    if (!spoiled.load()) {
      ASSERT_TRUE((*c)->Execute(fmt::format("UPDATE t_scion_new SET v = 'spoiled' WHERE id = {}", id)).has_value());
      spoiled = id;
    } else {  // the next range
      ASSERT_TRUE((*c)->Execute(fmt::format("UPDATE t_scion_new SET k = k + 1 WHERE id = {}", id)).has_value());
      spoiled_k = id;
    }
  };
  OnlineAlter alter(options, plan);
  ASSERT_TRUE(alter.Copy().has_value());
  ASSERT_GT(spoiled.load(), 0);
  EXPECT_GT(ranges.load(), 10);
  ASSERT_TRUE(alter.Verify().has_value());
  ASSERT_TRUE(alter.CutOver().has_value());
  EXPECT_EQ(Scalar(fmt::format("SELECT v FROM t WHERE id = {}", spoiled.load())),
            Scalar(fmt::format("SELECT v FROM control WHERE id = {}", spoiled.load())));
  ASSERT_GT(spoiled_k.load(), 0);
  EXPECT_EQ(Scalar(fmt::format("SELECT k FROM t WHERE id = {}", spoiled_k.load())),
            Scalar(fmt::format("SELECT k FROM control WHERE id = {}", spoiled_k.load())));
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
}

TEST_F(OnlineAlterTest, VerificationTellsANullFromTheValueOfTheNextColumn) {
  // ('x', NULL) and (NULL, 'x') read the same to CONCAT_WS, which skips NULLs: the CRC of a
  // nullable column must still tell them apart (a NOT NULL one goes without ISNULL).
  Exec("CREATE TABLE n (id INT PRIMARY KEY, a VARCHAR(8), b VARCHAR(8), k INT NOT NULL DEFAULT 0)");
  Exec("INSERT INTO n SELECT seq, 'x', NULL, seq FROM seq_1_to_20000");
  auto plan = Plan("n", "CREATE TABLE n (id INT PRIMARY KEY, a VARCHAR(8), b VARCHAR(8), k BIGINT NOT NULL DEFAULT 0)");
  auto options = Options();
  options.max_chunk_rows = 4000;
  options.verify_behind_copy = true;
  std::atomic<int> spoiled{0};
  options.on_behind_copy_range = [&](const std::string& lower, const std::string&) {
    if (spoiled.load() || lower.empty()) return;
    auto c = instance_->Connect("shop");
    ASSERT_TRUE(c.has_value());
    int id = std::stoi(lower) + 1;
    ASSERT_TRUE((*c)->Execute(fmt::format("UPDATE n_scion_new SET a = NULL, b = 'x' WHERE id = {}", id)).has_value());
    spoiled = id;
  };
  OnlineAlter alter(options, plan);
  ASSERT_TRUE(alter.Copy().has_value());
  ASSERT_GT(spoiled.load(), 0);
  ASSERT_TRUE(alter.Verify().has_value());
  ASSERT_TRUE(alter.CutOver().has_value());
  EXPECT_EQ(Scalar(fmt::format("SELECT CONCAT(a, '/', ISNULL(b)) FROM n WHERE id = {}", spoiled.load())), "x/1");
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM n WHERE a IS NULL OR b IS NOT NULL"), "0");
}

TEST_F(OnlineAlterTest, RowsThatKeepDifferingFailVerificationAndLeaveProductionAlone) {
  // A trigger on the shadow spoils one row every time it is copied: the repairs cannot fix it,
  // so verification fails with the reason after verify_repairs of them, behind the copy or not.
  for (bool behind : {true, false}) {
    SetUp();
    TableAndControl(20000);
    std::string before = Checksum("t", "id, k, v");
    auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64))");
    auto options = Options();
    options.max_chunk_rows = 3000;
    options.verify_behind_copy = behind;
    bool spoiled = false;
    std::optional<OnlineAlter> alter;
    alter.emplace(options, plan);
    auto st = alter->Copy([&](const Progress&) {
      if (spoiled) return;
      spoiled = true;
      // A row the copy has not reached yet.
      Exec("CREATE TRIGGER spoil BEFORE INSERT ON t_scion_new FOR EACH ROW "
           "BEGIN IF NEW.id = 15000 THEN SET NEW.v = 'spoiled'; END IF; END");
    });
    ASSERT_TRUE(st.has_value()) << st.error().ToString();
    st = alter->Verify();
    ASSERT_FALSE(st.has_value());
    EXPECT_NE(st.error().message.find("still differs from the old after 3 repairs"), std::string::npos)
        << st.error().message;
    alter.reset();
    EXPECT_EQ(Checksum("t", "id, k, v"), before);
    EXPECT_EQ(TablesLike("t\\_scion\\_new"), "0");
  }
}

TEST_F(OnlineAlterTest, VerifiedBehindTheCopyOrAfterItTheResultIsTheSame) {
  // Writes during the copy: rows changed after their range was compared behind the copy are
  // compared again by key; without verification behind the copy, the whole table is.
  for (bool behind : {true, false}) {
    SetUp();
    TableAndControl(40000);
    auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), KEY k (k))");
    auto options = Options();
    options.max_chunk_rows = 3000;
    options.verify_behind_copy = behind;
    std::atomic<int> ranges{0};
    options.on_behind_copy_range = [&](const std::string&, const std::string&) { ++ranges; };
    Storm storm(*instance_, 45000, 60000);
    OnlineAlter alter(options, plan);
    auto st = alter.Copy();
    if (st) st = alter.Verify();
    if (st) st = alter.CutOver();
    storm.Stop();
    ASSERT_TRUE(st.has_value()) << st.error().ToString();
    EXPECT_EQ(storm.errors, 0) << storm.last_error;
    EXPECT_EQ(ranges.load() > 0, behind);
    EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v")) << (behind ? "behind" : "after");
    ExpectDefinitionIsTarget(plan);
  }
}

TEST_F(OnlineAlterTest, WritesDuringAWaitBeforeTheCutOverAreNotAppliedUnderItsLocks) {
  // A gated deploy: verified, then kept in sync while writes go on. Every key applied since
  // verification began is applied again before the locks (behind a marker commit), so the locks
  // are held for the last moments' changes only, however long the wait.
  TableAndControl(30000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64))");
  OnlineAlter alter(Options(), plan);
  ASSERT_TRUE(alter.Copy().has_value());
  ASSERT_TRUE(alter.Verify().has_value());
  Storm storm(*instance_, 35000, 50000);
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(alter.CatchUp().has_value());
  }
  auto applied = alter.progress().changes_applied;
  auto cut = alter.CutOver();
  std::this_thread::sleep_for(200ms);
  storm.Stop();
  ASSERT_TRUE(cut.has_value()) << cut.error().ToString();
  EXPECT_EQ(storm.errors, 0) << storm.last_error;
  EXPECT_GT(applied, 1000u) << "the wait should have applied many changes";
  EXPECT_LT(alter.cutover_held().count(), 100) << "writes held for " << alter.cutover_held().count() << " ms";
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
}

TEST_F(OnlineAlterTest, SeveralTablesCutOverTogether) {
  TableAndControl(30000);
  for (const char* table : {"u", "control_u"}) {
    Exec(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, v VARCHAR(64))", table));
  }
  Exec("INSERT INTO u SELECT * FROM t");
  Exec("INSERT INTO control_u SELECT * FROM t");
  auto plan_t = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), "
                          "x INT DEFAULT NULL)");
  Exec("USE target_def");
  Exec("CREATE TABLE u (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), y INT DEFAULT NULL)");
  Exec("USE shop");
  auto from = schema::Introspect(*conn_, "shop");
  auto to = schema::Introspect(*conn_, "target_def");
  ASSERT_TRUE(from && to);
  auto plan_u = PlanTable(*conn_, "shop", from->tables.at("u"), to->tables.at("u"));
  ASSERT_TRUE(plan_u.has_value());

  // Every transaction writes both tables (and their controls); a reader's statements see both
  // tables at once: 3 + 3 columns before, 4 + 4 after, never 7 (one swapped, one not).
  Storm storm(*instance_, 35000, 50000, {"t", "control", "u", "control_u"});
  std::atomic<bool> stop{false};
  std::set<std::size_t> widths;
  std::thread reader([&] {
    auto c = instance_->Connect("shop");
    if (!c) return;
    while (!stop) {
      auto r = (*c)->Query("SELECT * FROM t JOIN u USING (id) LIMIT 1");
      if (r && !r->rows.empty()) widths.insert(r->rows[0].size() + 1);  // USING folds the two ids
    }
  });
  OnlineAlter at(Options(), plan_t), au(Options(), *plan_u);
  for (auto* m : {&at, &au}) {
    auto st = m->Copy();
    if (st) st = m->Verify();
    ASSERT_TRUE(st.has_value()) << st.error().ToString();
  }
  auto cut = OnlineAlter::CutOver({&at, &au});
  std::this_thread::sleep_for(300ms);
  storm.Stop();
  stop = true;
  reader.join();
  ASSERT_TRUE(cut.has_value()) << cut.error().ToString();
  EXPECT_TRUE(at.cut_over() && au.cut_over());
  EXPECT_EQ(storm.errors, 0) << storm.last_error;
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
  EXPECT_EQ(Checksum("u", "id, k, v"), Checksum("control_u", "id, k, v"));
  EXPECT_EQ(widths.count(7), 0u) << "a statement saw one table swapped and the other not";
  EXPECT_TRUE(widths.count(8)) << "the reader never saw the new tables";

  // And back together, keeping the writes made since.
  ASSERT_TRUE(at.StartRevertSync().has_value());
  ASSERT_TRUE(au.StartRevertSync().has_value());
  Storm more(*instance_, 35000, 60000, {"t", "control", "u", "control_u"});
  std::this_thread::sleep_for(300ms);
  auto back = OnlineAlter::Revert({&at, &au});
  std::this_thread::sleep_for(200ms);
  more.Stop();
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(more.errors, 0) << more.last_error;
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
  EXPECT_EQ(Checksum("u", "id, k, v"), Checksum("control_u", "id, k, v"));
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND "
                   "COLUMN_NAME IN ('x', 'y') AND TABLE_NAME IN ('t', 'u')"),
            "0");
}

TEST_F(OnlineAlterTest, LockingConnectionDyingMidCutOverLosesNothing) {
  TableAndControl(20000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64))");
  auto options = Options();
  int kills = 0;
  // Like the daemon dying in the middle of the cut-over: the connection holding the locks
  // vanishes while the sentry exists and the RENAME waits.
  options.on_cutover_stage = [&](std::string_view stage, std::uint64_t connection) {
    if (stage != "rename-queued" || kills++ > 0) return;
    auto killer = instance_->Connect();
    ASSERT_TRUE(killer.has_value());
    ASSERT_TRUE((*killer)->Execute(fmt::format("KILL {}", connection)).has_value());
  };
  Storm storm(*instance_, 25000, 40000);
  OnlineAlter alter(options, plan);
  ASSERT_TRUE(alter.Copy().has_value());
  ASSERT_TRUE(alter.Verify().has_value());
  auto cut = alter.CutOver();
  std::this_thread::sleep_for(200ms);
  storm.Stop();
  ASSERT_TRUE(cut.has_value()) << cut.error().ToString();
  EXPECT_EQ(kills, 2);  // the first attempt died; the second went through
  EXPECT_EQ(storm.errors, 0) << storm.last_error;
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
  EXPECT_EQ(Scalar("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 't' "
                   "AND COLUMN_NAME = 'k'"),
            "bigint");
}

TEST_F(OnlineAlterTest, NewUniqueKeyOnDuplicatesFailsCleanly) {
  Exec("CREATE TABLE t (id INT PRIMARY KEY, email VARCHAR(64))");
  Exec("INSERT INTO t VALUES (1, 'a@x'), (2, 'b@x'), (3, 'a@x')");
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, email VARCHAR(64), UNIQUE KEY email (email))");
  {
    OnlineAlter alter(Options(), plan);
    auto st = alter.Copy();
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(st.error().message.find("a@x"), std::string::npos) << st.error().message;
  }
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM t"), "3");
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'"), "1");
}

TEST_F(OnlineAlterTest, LongTransactionBlocksCutOverBoundedThenItSucceeds) {
  Exec("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL)");
  Exec("INSERT INTO t SELECT seq, seq FROM seq_1_to_1000");
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL)");
  auto options = Options();
  options.cutover_attempts = 2;
  OnlineAlter alter(options, plan);
  ASSERT_TRUE(alter.Copy().has_value());

  auto holder = instance_->Connect("shop");
  ASSERT_TRUE(holder.has_value());
  ASSERT_TRUE((*holder)->Execute("BEGIN").has_value());
  ASSERT_TRUE((*holder)->Query("SELECT * FROM t WHERE id = 1").has_value());  // holds the table's metadata lock

  // An application write during the failed attempts waits at most about the lock cap.
  auto writer = instance_->Connect("shop");
  ASSERT_TRUE(writer.has_value());
  auto t0 = std::chrono::steady_clock::now();
  auto st = alter.CutOver();
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(st.error().message.find("2 attempts"), std::string::npos) << st.error().message;
  EXPECT_LT(took, 15s);
  auto w0 = std::chrono::steady_clock::now();
  ASSERT_TRUE((*writer)->Execute("INSERT INTO t VALUES (5000, 1)").has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - w0, 2s);
  EXPECT_EQ(TablesLike("%\\_scion\\_old"), "0");

  ASSERT_TRUE((*holder)->Execute("COMMIT").has_value());
  ASSERT_TRUE(alter.CutOver().has_value());
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM t"), "1001");
}

TEST_F(OnlineAlterTest, RevertKeepsWritesMadeSinceTheDeploy) {
  TableAndControl(5000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), "
                        "extra INT NOT NULL DEFAULT 1)");
  OnlineAlter alter(Options(), plan);
  ASSERT_TRUE(alter.Copy().has_value());
  ASSERT_TRUE(alter.CutOver().has_value());
  ASSERT_TRUE(alter.StartRevertSync().has_value());

  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::thread writer([&] {
    auto c = instance_->Connect("shop");
    ASSERT_TRUE(c.has_value());
    std::mt19937 rng(7);
    int next_id = 10000;
    while (!stop) {
      int id = 1 + static_cast<int>(rng() % 6000);
      std::string stmt;
      switch (rng() % 4) {
        case 0:
          stmt = fmt::format("INSERT INTO {{}} (id, k, v) VALUES ({}, {}, 'w')", next_id, next_id);
          ++next_id;
          break;
        case 1:
          stmt = fmt::format("UPDATE {{}} SET k = k + 1 WHERE id = {}", id);
          break;
        case 2:
          stmt = fmt::format("DELETE FROM {{}} WHERE id = {}", id);
          break;
        default:
          stmt = fmt::format("UPDATE {{}} SET id = {} WHERE id = {}", next_id++, id);
      }
      bool ok = (*c)->Execute("BEGIN").has_value() && (*c)->Execute(fmt::format(fmt::runtime(stmt), "t")).has_value() &&
                (*c)->Execute(fmt::format(fmt::runtime(stmt), "control")).has_value() &&
                (*c)->Execute("COMMIT").has_value();
      if (!ok) {
        ++errors;
        (void)(*c)->Execute("ROLLBACK");
      }
    }
  });
  std::this_thread::sleep_for(400ms);  // writes to the new table during the revert window
  auto reverted = alter.Revert();
  std::this_thread::sleep_for(200ms);  // and to the previous table once it is back
  stop = true;
  writer.join();
  ASSERT_TRUE(reverted.has_value()) << reverted.error().ToString();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(Scalar("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 't' "
                   "AND COLUMN_NAME = 'k'"),
            "int");
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
}

TEST_F(OnlineAlterTest, RevertRefusedWhenRowsNoLongerFit) {
  Exec("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0)");
  Exec("INSERT INTO t SELECT seq, seq FROM seq_1_to_100");
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0)");
  OnlineAlter alter(Options(), plan);
  ASSERT_TRUE(alter.Copy().has_value());
  ASSERT_TRUE(alter.CutOver().has_value());
  ASSERT_TRUE(alter.StartRevertSync().has_value());
  Exec("INSERT INTO t VALUES (1000, 1099511627776)");  // 2^40 does not fit INT
  for (int i = 0; i < 100 && !alter.revert_error(); ++i) std::this_thread::sleep_for(20ms);
  auto st = alter.Revert();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(st.error().message.find("cannot revert t"), std::string::npos) << st.error().message;
  EXPECT_EQ(Scalar("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 't' "
                   "AND COLUMN_NAME = 'k'"),
            "bigint");
  EXPECT_EQ(Scalar("SELECT k FROM t WHERE id = 1000"), "1099511627776");
  ASSERT_TRUE(alter.SkipRevert().has_value());
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = "
                   "'t_scion_old'"),
            "0");
}

TEST_F(OnlineAlterTest, ResumesFromItsCheckpointAfterAnInterruptedCopy) {
  TableAndControl(30000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), KEY v (v))");
  auto options = Options();
  options.max_chunk_rows = 400;
  options.drop_shadow_on_failure = false;  // like a daemon killed mid-copy: nothing is cleaned up
  std::vector<Checkpoint> checkpoints;
  options.on_checkpoint = [&](const Checkpoint& c) -> Status {
    checkpoints.push_back(c);
    return Ok();
  };
  Storm storm(*instance_, 35000, 50000);
  {
    OnlineAlter first(options, plan);
    auto st = first.Copy([&](const Progress&) {
      if (checkpoints.size() >= 5) first.Cancel();
    });
    ASSERT_FALSE(st.has_value());
  }
  ASSERT_GE(checkpoints.size(), 5u);
  Checkpoint last = checkpoints.back();
  EXPECT_FALSE(last.copy_done);
  std::this_thread::sleep_for(200ms);  // writes while nothing runs
  OnlineAlter second(options, plan);
  ASSERT_TRUE(second.Copy({}, last).has_value());
  ASSERT_TRUE(second.Verify().has_value());
  ASSERT_TRUE(second.CutOver().has_value());
  storm.Stop();
  EXPECT_EQ(storm.errors, 0) << storm.last_error;
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
  ExpectDefinitionIsTarget(plan);
}

TEST_F(OnlineAlterTest, SparseAndExtremeIntegerKeysAreCopiedInRanges) {
  // Key ranges are found by arithmetic on an integer key: gaps, negative keys and the ends of
  // BIGINT's range must neither lose nor repeat a row.
  struct Case {
    std::string type;
    std::string keys;  // a SELECT of the keys
  };
  std::vector<Case> cases = {
      {"BIGINT", "SELECT CAST(seq AS SIGNED) - 5000 FROM seq_1_to_10000 UNION ALL SELECT seq * 1000000007 FROM seq_1_to_3000 UNION ALL "
                 "SELECT -9223372036854775808 UNION ALL SELECT 9223372036854775807 UNION ALL "
                 "SELECT 9223372036854775806"},
      {"BIGINT UNSIGNED", "SELECT seq FROM seq_1_to_5000 UNION ALL SELECT 18446744073709551615 - seq FROM "
                          "seq_0_to_2000 UNION ALL SELECT 0"},
      {"TINYINT", "SELECT CAST(seq AS SIGNED) - 128 FROM seq_0_to_255"},
      {"SMALLINT UNSIGNED", "SELECT seq * 7 FROM seq_0_to_9000"},
  };
  for (const auto& [c, behind] : {std::pair{cases[0], true}, {cases[0], false}, {cases[1], true}, {cases[1], false},
                                   {cases[2], true}, {cases[3], true}, {cases[3], false}}) {
    SetUp();
    Exec(fmt::format("CREATE TABLE t (id {} PRIMARY KEY, k INT NOT NULL DEFAULT 0, v VARCHAR(64), KEY v (v))", c.type));
    Exec(fmt::format("INSERT INTO t (id) {}", c.keys));
    Exec("UPDATE t SET k = 1, v = MD5(id)");
    std::string before = Checksum("t", "id, k, v");
    auto plan = Plan("t", fmt::format("CREATE TABLE t (id {} PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), "
                                      "KEY v (v), KEY kv (k, v))",
                                      c.type));
    auto options = Options();
    options.verify_behind_copy = behind;
    OnlineAlter alter(options, plan);
    auto st = alter.Copy();
    if (st) st = alter.Verify();
    if (st) st = alter.CutOver();
    ASSERT_TRUE(st.has_value()) << c.type << (behind ? " behind: " : " after: ") << st.error().ToString();
    EXPECT_EQ(Checksum("t", "id, k, v"), before) << c.type;
    ExpectDefinitionIsTarget(plan);
  }
}

TEST_F(OnlineAlterTest, CancelledWhileIndexesBuildLeavesNoShadow) {
  TableAndControl(200000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64), "
                        "KEY v (v), KEY kv (k, v))");
  {
    OnlineAlter alter(Options(), plan);
    ASSERT_TRUE(alter.Copy().has_value());
    EXPECT_EQ(alter.progress().phase, "catch-up");
    alter.Cancel();
    auto st = alter.Verify();
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kConflict);
  }  // the index build is stopped, the shadow dropped
  EXPECT_EQ(TablesLike("%\\_scion\\_%"), "0");
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%'"), "0");
}

TEST_F(OnlineAlterTest, SurvivesAMariadbCrashMidCopyByResuming) {
  TableAndControl(30000);
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0, v VARCHAR(64))");
  auto options = Options();
  options.max_chunk_rows = 400;
  options.drop_shadow_on_failure = false;
  std::vector<Checkpoint> checkpoints;
  options.on_checkpoint = [&](const Checkpoint& c) -> Status {
    checkpoints.push_back(c);
    return Ok();
  };
  {
    OnlineAlter first(options, plan);
    bool killed = false;
    auto st = first.Copy([&](const Progress&) {
      if (checkpoints.size() >= 3 && !killed) {
        killed = true;
        ::kill(instance_->fleet().GetStatus(fleet::ScratchInstance::kId).pid, SIGKILL);
      }
    });
    ASSERT_FALSE(st.has_value());
  }
  // The supervisor restarts mariadbd; writes go on once it is back.
  std::unique_ptr<mysql::AdminConnection> c;
  for (int i = 0; i < 300 && !c; ++i) {
    auto r = instance_->Connect("shop");
    if (r) c = std::move(*r);
    else std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(c);
  conn_ = std::move(c);
  Exec("UPDATE t SET k = k + 5 WHERE id % 97 = 0");
  Exec("UPDATE control SET k = k + 5 WHERE id % 97 = 0");
  Exec("DELETE FROM t WHERE id % 101 = 0");
  Exec("DELETE FROM control WHERE id % 101 = 0");
  OnlineAlter second(options, plan);
  ASSERT_TRUE(second.Copy({}, checkpoints.back()).has_value());
  ASSERT_TRUE(second.Verify().has_value());
  ASSERT_TRUE(second.CutOver().has_value());
  EXPECT_EQ(Checksum("t", "id, k, v"), Checksum("control", "id, k, v"));
}

TEST_F(OnlineAlterTest, AbandonRemovesShadowAndSentryOnly) {
  Exec("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0)");
  Exec("INSERT INTO t VALUES (1, 1)");
  auto plan = Plan("t", "CREATE TABLE t (id INT PRIMARY KEY, k BIGINT NOT NULL DEFAULT 0)");
  Exec("CREATE TABLE t_scion_new LIKE t");
  Exec("CREATE TABLE t_scion_old (id INT PRIMARY KEY) COMMENT 'scion cut-over sentry'");
  ASSERT_TRUE(OnlineAlter::Abandon(Options(), plan).has_value());
  EXPECT_EQ(Scalar("SELECT GROUP_CONCAT(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'"), "t");
  Exec("CREATE TABLE t_scion_old LIKE t");  // a real previous table (revert window) stays
  ASSERT_TRUE(OnlineAlter::Abandon(Options(), plan).has_value());
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'"), "2");
}

}  // namespace
}  // namespace scion::migrate
