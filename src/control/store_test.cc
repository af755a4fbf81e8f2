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

  Password MakePassword(const Branch& b, const std::string& name, const std::string& username) {
    return Password{.id = RandomId(12), .database_id = b.database_id, .branch_id = b.id, .name = name,
                    .username = username, .role = "admin", .native_verifier = std::string(40, 'a'),
                    .slow_hash = "pbkdf2-sha256$1$00$00", .ttl_seconds = 0, .created_at = NowUnixMillis(),
                    .expires_at = 0, .created_by = "tok1"};
  }

  // A store with database mydb (branches main and feat, both ready).
  std::unique_ptr<Store> StoreWithBranches(Branch& main, Branch& feat) {
    auto store = std::move(*Store::Open(Path()));
    EXPECT_TRUE(store->InsertOrganization(Organization{"org1", "default", 1}));
    Database db{"db1", "org1", "mydb", "main", 1, 1};
    main = MakeBranch(db, "main", 101);
    main.parent_branch = "";
    EXPECT_TRUE(store->InsertDatabase(db, main));
    feat = MakeBranch(db, "feat", 102);
    EXPECT_TRUE(store->InsertBranch(feat));
    return store;
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

TEST_F(StoreTest, MigratesVersionOneStoreToPasswords) {
  {
    auto store = std::move(*Store::Open(Path()));
    ASSERT_TRUE(store->PutSetting("k", "v"));
  }
  {
    sqlite3* db;
    sqlite3_open(Path().c_str(), &db);
    sqlite3_exec(db, "DROP TABLE passwords; DROP TABLE deploy_requests; DROP TABLE branch_base_schemas; "
                 "PRAGMA user_version = 1", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto store = Store::Open(Path());
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ((*store)->schema_version(), Store::LatestSchemaVersion());
  EXPECT_EQ(*(*store)->GetSetting("k").value(), "v");
  EXPECT_EQ(*(*store)->CountPasswords("db1", std::nullopt), 0);
}

TEST_F(StoreTest, DeployRequestsAreNumberedPerDatabase) {
  Branch main, feat;
  auto store = StoreWithBranches(main, feat);
  auto insert = [&](const std::string& id, const std::string& db) {
    return store->InsertDeployRequest({.id = id, .database_id = db, .state = "open", .deployment_state = "ready",
                                       .body = "{}", .created_at = 1});
  };
  EXPECT_EQ(*insert("a", main.database_id), 1);
  EXPECT_EQ(*insert("b", main.database_id), 2);
  Database other{"db2", "org1", "otherdb", "main", 1, 1};
  Branch other_main = MakeBranch(other, "main", 103);
  other_main.parent_branch = "";
  ASSERT_TRUE(store->InsertDatabase(other, other_main));
  EXPECT_EQ(insert("c", "db2").value(), 1);
  auto found = store->FindDeployRequest(main.database_id, 2);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "b");
  found->deployment_state = "queued";
  found->body = R"({"x":1})";
  ASSERT_TRUE(store->UpdateDeployRequest(*found));
  EXPECT_EQ(store->FindDeployRequest(main.database_id, 2)->body, R"({"x":1})");
  EXPECT_EQ(store->ListDeployRequests(main.database_id)->size(), 2u);
  EXPECT_EQ(store->FindDeployRequest(main.database_id, 9).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store->PutBaseSchema(feat.id, "[]"));
  EXPECT_EQ(**store->GetBaseSchema(feat.id), "[]");
  ASSERT_TRUE(store->DeleteDatabase(main.database_id));
  EXPECT_TRUE(store->ListDeployRequests(main.database_id)->empty());
  EXPECT_FALSE(store->GetBaseSchema(feat.id)->has_value());
}

TEST_F(StoreTest, PasswordsRoundTripWithBranchAndDatabaseNames) {
  Branch main, feat;
  auto store = StoreWithBranches(main, feat);
  auto p = MakePassword(feat, "app", "user1");
  p.ttl_seconds = 60;
  p.expires_at = 1234;
  ASSERT_TRUE(store->InsertPassword(p));

  auto found = store->FindPassword(feat.id, p.id);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->database_name, "mydb");
  EXPECT_EQ(found->branch_name, "feat");
  EXPECT_EQ(found->username, "user1");
  EXPECT_EQ(found->native_verifier, p.native_verifier);
  EXPECT_EQ(found->slow_hash, p.slow_hash);
  EXPECT_EQ(found->ttl_seconds, 60);
  EXPECT_EQ(found->expires_at, 1234);
  EXPECT_EQ(found->created_by, "tok1");
  // Another branch's password is not found through this branch.
  EXPECT_EQ(store->FindPassword(main.id, p.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->FindPasswordByUsername("user1")->id, p.id);
  EXPECT_EQ(store->FindPasswordByUsername("nobody").error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store->UpdatePasswordExpiry(p.id, 5678));
  EXPECT_EQ(store->FindPassword(feat.id, p.id)->expires_at, 5678);
  ASSERT_TRUE(store->DeletePassword(p.id));
  EXPECT_EQ(store->FindPassword(feat.id, p.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->DeletePassword(p.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->UpdatePasswordExpiry(p.id, 1).error().code, ErrorCode::kNotFound);
}

TEST_F(StoreTest, PasswordUsernamesAreUniqueAcrossThePlatform) {
  Branch main, feat;
  auto store = StoreWithBranches(main, feat);
  ASSERT_TRUE(store->InsertPassword(MakePassword(main, "a", "same")));
  auto dup = store->InsertPassword(MakePassword(feat, "b", "same"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(StoreTest, ListsPasswordsPerBranchOrDatabase) {
  Branch main, feat;
  auto store = StoreWithBranches(main, feat);
  for (int i = 0; i < 3; ++i) {
    auto p = MakePassword(main, "m" + std::to_string(i), "um" + std::to_string(i));
    p.created_at = 10 + i;
    ASSERT_TRUE(store->InsertPassword(p));
  }
  auto f = MakePassword(feat, "f", "uf");
  f.created_at = 5;
  ASSERT_TRUE(store->InsertPassword(f));

  EXPECT_EQ(*store->CountPasswords("db1", std::nullopt), 4);
  EXPECT_EQ(*store->CountPasswords("db1", main.id), 3);
  EXPECT_EQ(*store->CountPasswords("db1", feat.id), 1);
  auto all = *store->ListPasswords("db1", std::nullopt, 100, 0);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].name, "f");  // oldest first
  auto page = *store->ListPasswords("db1", main.id, 2, 2);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].name, "m2");
}

TEST_F(StoreTest, DeletingBranchOrDatabaseDeletesItsPasswords) {
  Branch main, feat;
  auto store = StoreWithBranches(main, feat);
  ASSERT_TRUE(store->InsertPassword(MakePassword(main, "m", "um")));
  ASSERT_TRUE(store->InsertPassword(MakePassword(feat, "f", "uf")));
  EXPECT_EQ(store->FindBranchById(feat.id)->name, "feat");

  ASSERT_TRUE(store->DeleteBranch(feat.id));
  EXPECT_EQ(store->FindBranchById(feat.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->FindPasswordByUsername("uf").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store->FindPasswordByUsername("um"));

  ASSERT_TRUE(store->DeleteDatabase("db1"));
  EXPECT_EQ(store->FindPasswordByUsername("um").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(*store->CountPasswords("db1", std::nullopt), 0);
}

}  // namespace
}  // namespace scion::control
