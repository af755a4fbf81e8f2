#include "api/router.h"

#include <gtest/gtest.h>

#include "api/client.h"

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

}  // namespace
}  // namespace scion::api
