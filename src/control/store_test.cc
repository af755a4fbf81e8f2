#include "control/store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/clock.h"
#include "base/crypto.h"

#include <sqlite3.h>

namespace scion::control {
namespace {
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scion-store-" + RandomId(8));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path() const { return (dir_ / "metadata.db").string(); }

  Branch MakeBranch(const Database& db, const std::string& name, std::uint32_t server_id) {
    auto now = NowUnixMillis();
    return Branch{.id = RandomId(12), .database_id = db.id, .database_name = db.name, .name = name,
                  .parent_branch = "main", .production = false, .safe_migrations = false,
                  .state = BranchState::kPending, .error = "", .server_id = server_id,
                  .created_at = now, .updated_at = now};
  }

  fs::path dir_;
};

TEST_F(StoreTest, MigratesToLatestAndReopens) {
  {
    auto store = Store::Open(Path());
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ((*store)->schema_version(), Store::LatestSchemaVersion());
    ASSERT_TRUE((*store)->PutSetting("k", "v"));
  }
  auto store = Store::Open(Path());
  ASSERT_TRUE(store);
  EXPECT_EQ(*(*store)->GetSetting("k").value(), "v");
  EXPECT_FALSE((*store)->GetSetting("missing").value().has_value());
}

TEST_F(StoreTest, DatabasesAndBranchesRoundTrip) {
  auto store = std::move(*Store::Open(Path()));
  Organization org{"org1", "default", 1};
  ASSERT_TRUE(store->InsertOrganization(org));
  Database db{"db1", "org1", "mydb", "main", 1, 1};
  Branch main = MakeBranch(db, "main", 101);
  main.parent_branch = "";
  main.production = true;
  ASSERT_TRUE(store->InsertDatabase(db, main));
  auto dup = store->InsertDatabase(Database{"db2", "org1", "mydb", "main", 1, 1}, MakeBranch(db, "main", 102));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);

  ASSERT_TRUE(store->InsertBranch(MakeBranch(db, "feat", 103)));
  auto dup_branch = store->InsertBranch(MakeBranch(db, "feat", 104));
  ASSERT_FALSE(dup_branch);
  EXPECT_EQ(dup_branch.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(dup_branch.error().message.find("already exists"), std::string::npos);

  auto feat = store->FindBranch("db1", "feat");
  ASSERT_TRUE(feat);
  EXPECT_EQ(feat->database_name, "mydb");
  EXPECT_EQ(feat->state, BranchState::kPending);
  feat->state = BranchState::kReady;
  feat->production = true;
  ASSERT_TRUE(store->UpdateBranch(*feat));
  EXPECT_EQ(store->FindBranch("db1", "feat")->state, BranchState::kReady);
  EXPECT_TRUE(store->FindBranch("db1", "feat")->production);

  EXPECT_EQ(*store->CountBranches("db1"), 2);
  EXPECT_EQ(store->ListBranches("db1", 1, 1)->size(), 1u);
  EXPECT_EQ(store->FindBranch("db1", "nope").error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store->DeleteDatabase("db1"));
  EXPECT_EQ(*store->CountBranches("db1"), 0);
  EXPECT_EQ(store->FindDatabase("org1", "mydb").error().code, ErrorCode::kNotFound);
}

TEST_F(StoreTest, ServerIdsAreUniqueAcrossReopen) {
  std::uint32_t a, b;
  {
    auto store = std::move(*Store::Open(Path()));
    a = *store->NextServerId();
    b = *store->NextServerId();
  }
  EXPECT_NE(a, b);
  auto store = std::move(*Store::Open(Path()));
  auto c = *store->NextServerId();
  EXPECT_GT(c, b);
}

TEST_F(StoreTest, RefusesNewerSchemaVersion) {
  {
    auto store = std::move(*Store::Open(Path()));
  }
  {
    sqlite3* db;
    sqlite3_open(Path().c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto store = Store::Open(Path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace scion::control
