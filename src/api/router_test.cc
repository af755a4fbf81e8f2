#include "api/router.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include "api/client.h"
#include "base/crypto.h"

namespace scion::api {
namespace {

TEST(HttpStatusTest, MapsCodesLikeTheApiDocumentation) {
  EXPECT_EQ(HttpStatus(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatus(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatus(ErrorCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatus(ErrorCode::kConflict), 409);
  EXPECT_EQ(HttpStatus(ErrorCode::kInvalidArgument), 422);
}

TEST(ClientTest, ErrorNamesRoundTrip) {
  for (auto code : {ErrorCode::kNotFound, ErrorCode::kConflict, ErrorCode::kUnauthenticated,
                    ErrorCode::kInvalidArgument, ErrorCode::kAlreadyExists}) {
    EXPECT_EQ(ErrorCodeFromName(ErrorCodeName(code)), code);
  }
  EXPECT_EQ(ErrorCodeFromName("something-new"), ErrorCode::kInternal);
}

TEST(ClientTest, UrlEncodeKeepsUnreservedOnly) {
  EXPECT_EQ(UrlEncode("add-user_1.x~"), "add-user_1.x~");
  EXPECT_EQ(UrlEncode("a b/c"), "a%20b%2Fc");
}

TEST(ClientTest, UnreachableServerIsUnavailableWithHint) {
  Client client({.server = "http://127.0.0.1:1", .token = "x:y", .timeout_seconds = 5});
  auto r = client.Get("/v1/health");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().hint.find("scion server"), std::string::npos);
}

// The password routes against a real control plane (a temp data folder, real mariadbd).
class PasswordRoutesTest : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() / ("scion-router-" + RandomId(8)));
    auto cp = control::ControlPlane::Open({.data_dir = *dir_, .workers = 2});
    ASSERT_TRUE(cp) << cp.error().message;
    cp_ = cp->release();
    token_ = new std::string(*cp_->new_admin_token());
    router_ = new Router(*cp_, "test");
    ASSERT_TRUE(cp_->CreateDatabase("default", "mydb"));
    for (int i = 0; i < 2400; ++i) {
      auto b = cp_->GetBranch("default", "mydb", "main");
      ASSERT_TRUE(b);
      ASSERT_NE(b->state, control::BranchState::kError) << b->error;
      if (b->state == control::BranchState::kReady) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "main not ready in time";
  }
  static void TearDownTestSuite() {
    delete router_;
    delete cp_;
    delete token_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  std::pair<int, json> Call(const std::string& method, const std::string& path, const json& body = nullptr) {
    Request req{.method = method,
                .target = "/v1/organizations/default/databases/mydb" + path,
                .authorization = *token_,
                .body = body.is_null() ? "" : body.dump()};
    auto r = router_->Handle(req);
    return {r.status, r.body.empty() ? json() : json::parse(r.body)};
  }

  static std::filesystem::path* dir_;
  static control::ControlPlane* cp_;
  static std::string* token_;
  static Router* router_;
};
std::filesystem::path* PasswordRoutesTest::dir_ = nullptr;
control::ControlPlane* PasswordRoutesTest::cp_ = nullptr;
std::string* PasswordRoutesTest::token_ = nullptr;
Router* PasswordRoutesTest::router_ = nullptr;

TEST_F(PasswordRoutesTest, CreateShowsPlainTextOnceAndListNever) {
  auto [status, created] = Call("POST", "/branches/main/passwords", {{"name", "app"}, {"role", "reader"}, {"ttl", 3600}});
  ASSERT_EQ(status, 201) << created.dump();
  EXPECT_EQ(created["name"], "app");
  EXPECT_EQ(created["role"], "reader");
  EXPECT_EQ(created["ttl_seconds"], 3600);
  EXPECT_TRUE(created["expires_at"].is_string());
  EXPECT_TRUE(created["created_at"].is_string());
  EXPECT_EQ(created["renewable"], true);
  EXPECT_EQ(created["expired"], false);
  EXPECT_EQ(created["access_host_url"], "");
  EXPECT_EQ(created["database_branch"]["name"], "main");
  EXPECT_TRUE(created["database_branch"]["id"].is_string());
  EXPECT_TRUE(created["plain_text"].get<std::string>().starts_with("scion_pw_"));
  std::string id = created["id"];

  auto [s1, one] = Call("GET", "/branches/main/passwords/" + id);
  ASSERT_EQ(s1, 200);
  EXPECT_FALSE(one.contains("plain_text"));
  EXPECT_EQ(one["username"], created["username"]);

  cp_->SetGatewayAddress("127.0.0.1:3307");
  auto [s2, list] = Call("GET", "/branches/main/passwords?per_page=100");
  cp_->SetGatewayAddress("");
  ASSERT_EQ(s2, 200);
  EXPECT_EQ(list["type"], "list");
  bool found = false;
  for (const auto& p : list["data"]) {
    EXPECT_FALSE(p.contains("plain_text"));
    EXPECT_EQ(p["access_host_url"], "127.0.0.1:3307");
    found |= p["id"] == id;
  }
  EXPECT_TRUE(found);
  auto [s3, all] = Call("GET", "/passwords");
  ASSERT_EQ(s3, 200);
  EXPECT_GE(all["total_count"].get<int>(), 1);
}

TEST_F(PasswordRoutesTest, DefaultsToAdminWithoutExpiryAndRenewIsRefused) {
  auto [status, created] = Call("POST", "/branches/main/passwords", {{"name", "forever"}});
  ASSERT_EQ(status, 201) << created.dump();
  EXPECT_EQ(created["role"], "admin");
  EXPECT_TRUE(created["expires_at"].is_null());
  EXPECT_EQ(created["ttl_seconds"], 0);
  EXPECT_EQ(created["renewable"], false);
  std::string id = created["id"];
  auto [s1, refused] = Call("POST", "/branches/main/passwords/" + id + "/renew");
  EXPECT_EQ(s1, 409);
  EXPECT_EQ(refused["code"], "failed_precondition");
  EXPECT_TRUE(refused.contains("hint"));

  auto [s2, none] = Call("DELETE", "/branches/main/passwords/" + id);
  EXPECT_EQ(s2, 204);
  EXPECT_TRUE(none.is_null());
  auto [s3, gone] = Call("GET", "/branches/main/passwords/" + id);
  EXPECT_EQ(s3, 404);
  EXPECT_EQ(gone["code"], "not_found");
}

TEST_F(PasswordRoutesTest, RenewMovesExpiresAt) {
  auto [status, created] = Call("POST", "/branches/main/passwords", {{"name", "short"}, {"ttl", 60}});
  ASSERT_EQ(status, 201);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto [s1, renewed] = Call("POST", "/branches/main/passwords/" + created["id"].get<std::string>() + "/renew");
  ASSERT_EQ(s1, 200) << renewed.dump();
  EXPECT_GT(renewed["expires_at"].get<std::string>(), created["expires_at"].get<std::string>());
  EXPECT_FALSE(renewed.contains("plain_text"));
}

TEST_F(PasswordRoutesTest, BadInputGetsInvalidParamsOrNotFound) {
  struct Case {
    json body;
    std::string branch;
    int status;
  };
  for (const auto& c : std::vector<Case>{{{{"role", "admin"}}, "main", 422},
                                         {{{"name", "x"}, {"role", "root"}}, "main", 422},
                                         {{{"name", "x"}, {"ttl", "1h"}}, "main", 422},
                                         {{{"name", "x"}, {"ttl", 1.5}}, "main", 422},
                                         {{{"name", "x"}, {"ttl", -1}}, "main", 422},
                                         {{{"name", "x"}, {"ttl", 1e30}}, "main", 422},
                                         {{{"name", "x"}}, "nope", 404}}) {
    auto [status, err] = Call("POST", "/branches/" + c.branch + "/passwords", c.body);
    EXPECT_EQ(status, c.status) << c.body.dump() << " " << err.dump();
    EXPECT_TRUE(err.contains("code") && err.contains("message")) << err.dump();
  }
  EXPECT_EQ(Call("PUT", "/branches/main/passwords").first, 422);
  EXPECT_EQ(Call("POST", "/passwords").first, 422);
  EXPECT_EQ(Call("GET", "/branches/main/passwords/x/renew").first, 404);
  EXPECT_EQ(Call("GET", "/branches/main/passwords?page=0").first, 422);
}

}  // namespace
}  // namespace scion::api
