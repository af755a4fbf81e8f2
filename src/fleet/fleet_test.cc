// Integration tests: these start real mariadbd processes in a temp folder.
#include "fleet/fleet.h"

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <thread>

#include "base/crypto.h"
#include "mysql/admin_connection.h"

namespace scion::fleet {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

Accounts TestAccounts() { return GenerateAccounts(); }

class FleetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("scion-fleet-" + RandomId(8)));
    fs::create_directories(*dir_);
    accounts_ = new Accounts(TestAccounts());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete accounts_;
  }

  FleetOptions Options() {
    FleetOptions o;
    o.root = *dir_ / "instances";
    o.template_dir = *dir_ / "template";
    o.accounts = *accounts_;
    o.supervise_interval = 50ms;
    o.max_backoff = 1000ms;
    return o;
  }

  Result<std::unique_ptr<mysql::AdminConnection>> ConnectAs(Fleet& fleet, const std::string& id, const Account& a,
                                                            const std::string& db) {
    return mysql::AdminConnection::Connect(
        {.unix_socket = fleet.SocketPath(id).string(), .user = a.user, .password = a.password, .database = db});
  }

  static fs::path* dir_;
  static Accounts* accounts_;
};
fs::path* FleetTest::dir_ = nullptr;
Accounts* FleetTest::accounts_ = nullptr;

TEST(RenderTest, ConfigHasBinlogGtidAndDurabilityByKind) {
  InstanceSpec dev{.id = "b1", .database = "mydb", .server_id = 7, .kind = InstanceKind::kDevelopment};
  auto c = RenderConfig(dev, "/x/b1", false);
  EXPECT_NE(c.find("server_id=7\n"), std::string::npos);
  EXPECT_NE(c.find("log_bin=binlog\nbinlog_format=ROW\nbinlog_row_image=FULL\n"), std::string::npos);
  EXPECT_NE(c.find("skip_networking"), std::string::npos);
  EXPECT_NE(c.find("innodb_flush_log_at_trx_commit=2"), std::string::npos);
  EXPECT_EQ(c.find("user=root"), std::string::npos);
  InstanceSpec prod = dev;
  prod.kind = InstanceKind::kProduction;
  auto p = RenderConfig(prod, "/x/b1", true);
  EXPECT_NE(p.find("innodb_flush_log_at_trx_commit=1\nsync_binlog=1\n"), std::string::npos);
  EXPECT_NE(p.find("user=root"), std::string::npos);
  EXPECT_NE(p.find("innodb_buffer_pool_size=1073741824\n"), std::string::npos);
  EXPECT_NE(c.find("innodb_buffer_pool_size=33554432\n"), std::string::npos);
}

TEST(RenderTest, ConfigTakesTheBufferPoolOfItsKind) {
  InstanceSizing sizing{.production_buffer_pool = 512ull << 20, .development_buffer_pool = 16ull << 20};
  InstanceSpec dev{.id = "b1", .database = "mydb", .server_id = 7, .kind = InstanceKind::kDevelopment};
  EXPECT_NE(RenderConfig(dev, "/x/b1", false, sizing).find("innodb_buffer_pool_size=16777216\n"), std::string::npos);
  dev.kind = InstanceKind::kProduction;
  EXPECT_NE(RenderConfig(dev, "/x/b1", false, sizing).find("innodb_buffer_pool_size=536870912\n"), std::string::npos);
}

TEST(RenderTest, InitFileQuotesDatabaseAndGrantsPerRole) {
  InstanceSpec spec{.id = "b1", .database = "my-db", .server_id = 1};
  auto s = RenderInitFile(spec, TestAccounts());
  EXPECT_NE(s.find("CREATE DATABASE IF NOT EXISTS `my-db`;"), std::string::npos);
  EXPECT_NE(s.find("GRANT SELECT, SHOW VIEW ON `my-db`.* TO 'scion_reader'@'localhost';"), std::string::npos);
  EXPECT_NE(s.find("GRANT INSERT, UPDATE, DELETE ON `my-db`.* TO 'scion_writer'@'localhost';"), std::string::npos);
}

TEST_F(FleetTest, StartsInstanceWithRoleAccountsAndBinlog) {
  auto fleet = Fleet::Open(Options());
  ASSERT_TRUE(fleet) << fleet.error().message;
  InstanceSpec spec{.id = "roles", .database = "appdb", .server_id = 11};
  ASSERT_TRUE((*fleet)->Create(spec));
  EXPECT_EQ((*fleet)->Create(spec).error().code, ErrorCode::kAlreadyExists);
  auto started = (*fleet)->Start(spec);
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ((*fleet)->GetStatus("roles").state, InstanceState::kRunning);

  auto admin = ConnectAs(**fleet, "roles", accounts_->admin, "appdb");
  ASSERT_TRUE(admin) << admin.error().message;
  ASSERT_TRUE((*admin)->Execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))"));
  ASSERT_TRUE((*admin)->Execute("INSERT INTO t VALUES (1, 'a')"));
  // Admin has no server-level privileges.
  EXPECT_FALSE((*admin)->Execute("CREATE DATABASE other"));

  auto reader = ConnectAs(**fleet, "roles", accounts_->reader, "appdb");
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->Query("SELECT v FROM t")->rows.size(), 1u);
  EXPECT_FALSE((*reader)->Execute("INSERT INTO t VALUES (2, 'b')"));
  EXPECT_FALSE((*reader)->Query("SELECT * FROM mysql.user"));

  auto writer = ConnectAs(**fleet, "roles", accounts_->writer, "appdb");
  ASSERT_TRUE(writer);
  EXPECT_TRUE((*writer)->Execute("INSERT INTO t VALUES (2, 'b')"));
  EXPECT_FALSE((*writer)->Execute("CREATE TABLE u (id INT PRIMARY KEY)"));

  auto internal = ConnectAs(**fleet, "roles", accounts_->internal, "");
  ASSERT_TRUE(internal);
  auto vars = (*internal)->Query(
      "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id, @@skip_networking, @@gtid_binlog_pos");
  ASSERT_TRUE(vars);
  EXPECT_EQ(vars->rows[0][0], "1");
  EXPECT_EQ(vars->rows[0][1], "ROW");
  EXPECT_EQ(vars->rows[0][2], "FULL");
  EXPECT_EQ(vars->rows[0][3], "11");
  EXPECT_EQ(vars->rows[0][4], "1");
  EXPECT_NE(vars->rows[0][5], "");

  ASSERT_TRUE((*fleet)->Destroy("roles"));
  EXPECT_FALSE((*fleet)->Exists("roles"));
}

TEST_F(FleetTest, RestartsCrashedInstanceKeepingData) {
  auto fleet = Fleet::Open(Options());
  ASSERT_TRUE(fleet);
  InstanceSpec spec{.id = "crashy", .database = "appdb", .server_id = 12};
  ASSERT_TRUE((*fleet)->Create(spec));
  ASSERT_TRUE((*fleet)->Start(spec));
  {
    auto admin = ConnectAs(**fleet, "crashy", accounts_->admin, "appdb");
    ASSERT_TRUE(admin);
    ASSERT_TRUE((*admin)->Execute("CREATE TABLE t (id INT PRIMARY KEY)"));
    ASSERT_TRUE((*admin)->Execute("INSERT INTO t VALUES (42)"));
  }
  int old_pid = (*fleet)->GetStatus("crashy").pid;
  ASSERT_GT(old_pid, 0);
  ::kill(old_pid, SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = (*fleet)->GetStatus("crashy");
    if (st.state == InstanceState::kRunning && st.pid != old_pid) break;
    std::this_thread::sleep_for(50ms);
  }
  auto st = (*fleet)->GetStatus("crashy");
  ASSERT_EQ(st.state, InstanceState::kRunning);
  EXPECT_EQ(st.restarts, 1);
  auto reader = ConnectAs(**fleet, "crashy", accounts_->reader, "appdb");
  ASSERT_TRUE(reader);
  auto rows = (*reader)->Query("SELECT id FROM t");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows[0][0], "42");
  (*fleet)->StopAll();
  EXPECT_EQ((*fleet)->GetStatus("crashy").state, InstanceState::kStopped);
}

TEST_F(FleetTest, NewFleetAdoptsRunningInstance) {
  InstanceSpec spec{.id = "adopt", .database = "appdb", .server_id = 13};
  int pid = 0;
  {
    auto fleet = Fleet::Open(Options());
    ASSERT_TRUE(fleet);
    ASSERT_TRUE((*fleet)->Create(spec));
    ASSERT_TRUE((*fleet)->Start(spec));
    pid = (*fleet)->GetStatus("adopt").pid;
    // The Fleet goes away without stopping the instance, as after a daemon crash.
  }
  ASSERT_EQ(::kill(pid, 0), 0);
  auto fleet = Fleet::Open(Options());
  ASSERT_TRUE(fleet);
  ASSERT_TRUE((*fleet)->Start(spec));
  EXPECT_EQ((*fleet)->GetStatus("adopt").pid, pid);
  ASSERT_TRUE((*fleet)->Stop("adopt"));
  // Reap: the first Fleet spawned it, so it is still this process's child.
  ::waitpid(pid, nullptr, 0);
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST_F(FleetTest, StartFailsClearlyWithoutFolder) {
  auto fleet = Fleet::Open(Options());
  ASSERT_TRUE(fleet);
  auto r = (*fleet)->Start({.id = "missing", .database = "x", .server_id = 99});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace scion::fleet
