// Integration tests of branch passwords and the gateway directory: a real control plane in a
// temp folder, with real mariadbd instances.
#include "control/control_plane.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/clock.h"
#include "base/crypto.h"
#include "mysql/admin_connection.h"
#include "mysql/auth.h"

namespace scion::control {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PasswordsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("scion-cp-" + RandomId(8)));
    auto cp = ControlPlane::Open({.data_dir = *dir_, .workers = 2});
    ASSERT_TRUE(cp) << cp.error().message;
    cp_ = cp->release();
    ASSERT_TRUE(cp_->CreateDatabase("default", "mydb"));
    WaitReady("main");
  }
  static void TearDownTestSuite() {
    delete cp_;
    cp_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static void WaitReady(const std::string& branch) {
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto b = cp_->GetBranch("default", "mydb", branch);
      ASSERT_TRUE(b) << b.error().message;
      ASSERT_NE(b->state, BranchState::kError) << b->error;
      if (b->state == BranchState::kReady) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "branch " << branch << " not ready in time";
  }

  ControlPlane::CreatedPassword Create(const std::string& branch, const std::string& name, const std::string& role = "",
                                       std::int64_t ttl = 0) {
    auto p = cp_->CreatePassword("default", "mydb", branch, name, role, ttl, "tok1");
    EXPECT_TRUE(p) << p.error().message;
    return p ? *p : ControlPlane::CreatedPassword{};
  }

  static fs::path* dir_;
  static ControlPlane* cp_;
};
fs::path* PasswordsTest::dir_ = nullptr;
ControlPlane* PasswordsTest::cp_ = nullptr;

TEST_F(PasswordsTest, CreateStoresVerifiersOnlyAndFindLoginChecksThem) {
  auto before = NowUnixMillis();
  auto c = Create("main", "app", "", 3600);
  EXPECT_EQ(c.password.role, "admin");
  EXPECT_EQ(c.password.username.size(), 20u);
  EXPECT_TRUE(c.plain_text.starts_with("scion_pw_"));
  EXPECT_EQ(c.plain_text.size(), 9u + 43u);
  EXPECT_EQ(c.password.created_by, "tok1");
  EXPECT_GE(c.password.expires_at, before + 3600 * 1000);
  EXPECT_EQ(c.password.native_verifier.find(c.plain_text), std::string::npos);

  auto login = cp_->directory().FindLogin(c.password.username);
  ASSERT_TRUE(login) << login.error().message;
  EXPECT_EQ(login->password_id, c.password.id);
  EXPECT_EQ(login->database, "mydb");
  EXPECT_EQ(login->branch, "main");
  EXPECT_EQ(login->role, "admin");
  EXPECT_EQ(login->native_verifier, mysql::NativeVerifier(c.plain_text));
  EXPECT_TRUE(mysql::CheckSlowHash(c.plain_text, login->slow_hash));
  EXPECT_FALSE(mysql::CheckSlowHash(c.plain_text + "x", login->slow_hash));
  EXPECT_EQ(login->expires_at, c.password.expires_at);
  EXPECT_EQ(cp_->directory().FindLogin("nobody").error().code, ErrorCode::kNotFound);
}

TEST_F(PasswordsTest, EveryRoleGetsItsBackendAccount) {
  for (std::string role : {"reader", "writer", "readwriter", "admin"}) {
    auto c = Create("main", "role-" + role, role);
    EXPECT_EQ(c.password.role, role);
    EXPECT_EQ(c.password.expires_at, 0);
    auto backend = cp_->directory().BackendFor(c.password.branch_id, role);
    ASSERT_TRUE(backend) << backend.error().message;
    EXPECT_EQ(backend->user, "scion_" + role);
    EXPECT_EQ(backend->schema, "mydb");
    EXPECT_FALSE(backend->safe_migrations);
    auto conn = mysql::AdminConnection::Connect({.unix_socket = backend->unix_socket,
                                                 .user = backend->user,
                                                 .password = backend->password,
                                                 .database = backend->schema});
    ASSERT_TRUE(conn) << conn.error().message;
    auto r = (*conn)->Query("SELECT CURRENT_USER()");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->rows.at(0).at(0).value(), "scion_" + role + "@localhost");
  }
  auto main = cp_->GetBranch("default", "mydb", "main");
  EXPECT_EQ(cp_->directory().BackendFor(main->id, "root").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(cp_->directory().BackendFor("nosuchbranch", "admin").error().code, ErrorCode::kNotFound);
}

TEST_F(PasswordsTest, RefusesBadNameRoleTtlAndUnknownBranch) {
  auto code = [](Result<ControlPlane::CreatedPassword> r) { return r ? std::optional<ErrorCode>() : r.error().code; };
  EXPECT_EQ(code(cp_->CreatePassword("default", "mydb", "main", "", "", 0, "t")), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(cp_->CreatePassword("default", "mydb", "main", "x", "root", 0, "t")), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(cp_->CreatePassword("default", "mydb", "main", "x", "", -5, "t")), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(cp_->CreatePassword("default", "mydb", "main", "x", "", 400 * 86400, "t")),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(cp_->CreatePassword("default", "mydb", "nope", "x", "", 0, "t")), ErrorCode::kNotFound);
  EXPECT_EQ(code(cp_->CreatePassword("default", "nodb", "main", "x", "", 0, "t")), ErrorCode::kNotFound);
}

TEST_F(PasswordsTest, RenewAndDeleteBumpTheGeneration) {
  auto fixed = Create("main", "fixed");
  auto expiring = Create("main", "expiring", "reader", 60);
  auto& dir = cp_->directory();

  auto g0 = dir.Generation();
  auto refused = cp_->RenewPassword("default", "mydb", "main", fixed.password.id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(dir.Generation(), g0);

  std::this_thread::sleep_for(5ms);
  auto renewed = cp_->RenewPassword("default", "mydb", "main", expiring.password.id);
  ASSERT_TRUE(renewed) << renewed.error().message;
  EXPECT_GT(renewed->expires_at, expiring.password.expires_at);
  EXPECT_EQ(cp_->GetPassword("default", "mydb", "main", expiring.password.id)->expires_at, renewed->expires_at);
  auto g1 = dir.Generation();
  EXPECT_GT(g1, g0);

  ASSERT_TRUE(cp_->DeletePassword("default", "mydb", "main", fixed.password.id));
  EXPECT_GT(dir.Generation(), g1);
  EXPECT_EQ(dir.FindLogin(fixed.password.username).error().code, ErrorCode::kNotFound);
  auto gone = cp_->GetPassword("default", "mydb", "main", fixed.password.id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(cp_->DeletePassword("default", "mydb", "main", fixed.password.id).error().code, ErrorCode::kNotFound);
}

TEST_F(PasswordsTest, SafeMigrationsFlagReachesTheBackendAndBumpsTheGeneration) {
  auto main = *cp_->GetBranch("default", "mydb", "main");
  auto g0 = cp_->directory().Generation();
  ASSERT_TRUE(cp_->SetSafeMigrations("default", "mydb", "main", true));
  EXPECT_GT(cp_->directory().Generation(), g0);
  EXPECT_TRUE(cp_->directory().BackendFor(main.id, "admin")->safe_migrations);
  ASSERT_TRUE(cp_->SetSafeMigrations("default", "mydb", "main", false));
  EXPECT_FALSE(cp_->directory().BackendFor(main.id, "admin")->safe_migrations);
}

TEST_F(PasswordsTest, ListsPerBranchAndDeletingTheBranchDeletesItsPasswords) {
  ASSERT_TRUE(cp_->CreateBranch("default", "mydb", "feat", ""));
  WaitReady("feat");
  auto f1 = Create("feat", "f1");
  auto f2 = Create("feat", "f2", "writer", 10);
  auto on_feat = cp_->ListPasswords("default", "mydb", "feat", {.page = 1, .per_page = 1});
  ASSERT_TRUE(on_feat) << on_feat.error().message;
  EXPECT_EQ(on_feat->total, 2);
  ASSERT_EQ(on_feat->items.size(), 1u);
  EXPECT_EQ(on_feat->items[0].id, f1.password.id);
  EXPECT_EQ(on_feat->items[0].branch_name, "feat");
  auto all = cp_->ListPasswords("default", "mydb", std::nullopt, {});
  ASSERT_TRUE(all);
  EXPECT_GT(all->total, 2);
  EXPECT_EQ(cp_->ListPasswords("default", "mydb", "nope", {}).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(cp_->GetPassword("default", "mydb", "main", f1.password.id).error().code, ErrorCode::kNotFound);

  auto g0 = cp_->directory().Generation();
  ASSERT_TRUE(cp_->DeleteBranch("default", "mydb", "feat"));
  EXPECT_GT(cp_->directory().Generation(), g0);
  EXPECT_EQ(cp_->directory().FindLogin(f2.password.username).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(cp_->directory().BackendFor(f2.password.branch_id, "writer").error().code, ErrorCode::kNotFound);
}

TEST_F(PasswordsTest, GatewayAddressIsEmptyUntilSet) {
  EXPECT_EQ(cp_->GatewayAddress(), "");
  cp_->SetGatewayAddress("127.0.0.1:3306");
  EXPECT_EQ(cp_->GatewayAddress(), "127.0.0.1:3306");
  cp_->SetGatewayAddress("");
}

}  // namespace
}  // namespace scion::control
