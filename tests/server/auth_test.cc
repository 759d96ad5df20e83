// Bearer-token checks and the absl -> gRPC status mapping of the server.
#include "server/auth.h"

#include "common/file.h"
#include "server/grpc_status.h"
#include "tests/test_util.h"

namespace matalign::server {
namespace {

using ::matalign::testing::TempDir;

TEST(TokenAuthenticatorTest, OpenUserAndAdminAccess) {
  TokenAuthenticator auth({"user-1", "user-2"}, {"root-1"});
  ASSERT_TRUE(auth.enabled());
  EXPECT_OK(auth.Check(Access::kOpen, {}, "Health"));
  EXPECT_OK(auth.Check(Access::kUser, {"Bearer user-2"}, "Search"));
  EXPECT_OK(auth.Check(Access::kUser, {"bearer   root-1 "}, "Search"));  // admin is a user too
  EXPECT_OK(auth.Check(Access::kAdmin, {"Bearer root-1"}, "ReloadModel"));

  auto missing = auth.Check(Access::kUser, {}, "Search");
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(missing.message().find("authorization: Bearer"), std::string::npos) << missing;
  EXPECT_EQ(auth.Check(Access::kUser, {"Basic dXNlcg=="}, "Search").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Check(Access::kUser, {"Bearer user-3"}, "Search").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Check(Access::kUser, {"Bearer user-1x"}, "Search").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Check(Access::kUser, {"Bearer user-1", "Bearer user-2"}, "Search").code(),
            absl::StatusCode::kUnauthenticated);
  auto denied = auth.Check(Access::kAdmin, {"Bearer user-1"}, "ReloadModel");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("ReloadModel needs an admin token"), std::string::npos);
}

TEST(TokenAuthenticatorTest, NoTokensMeansNoAuthentication) {
  ASSERT_OK_AND_ASSIGN(auto auth, TokenAuthenticator::FromConfig({}));
  EXPECT_FALSE(auth->enabled());
  EXPECT_OK(auth->Check(Access::kAdmin, {}, "ReloadModel"));
}

TEST(TokenAuthenticatorTest, FromTokenFiles) {
  TempDir tmp;
  ASSERT_OK(WriteFileAtomic(tmp.Join("users"), "# LIMS\nlims-token\n"));
  ASSERT_OK(WriteFileAtomic(tmp.Join("admins"), "ops-token\n"));
  AuthConfig config{tmp.Join("users"), tmp.Join("admins")};
  ASSERT_OK_AND_ASSIGN(auto auth, TokenAuthenticator::FromConfig(config));
  EXPECT_OK(auth->Check(Access::kUser, {"Bearer lims-token"}, "Recommend"));
  EXPECT_OK(auth->Check(Access::kAdmin, {"Bearer ops-token"}, "ReloadModel"));
  config.tokens_file = tmp.Join("nope");
  EXPECT_EQ(TokenAuthenticator::FromConfig(config).status().code(), absl::StatusCode::kNotFound);
}

TEST(GrpcStatusTest, CodesAndMessagesSurvive) {
  for (absl::StatusCode code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kUnavailable, absl::StatusCode::kResourceExhausted,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kUnauthenticated,
        absl::StatusCode::kPermissionDenied, absl::StatusCode::kDataLoss}) {
    const absl::Status s(code, "structure: line 3: bad cell");
    const grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "structure: line 3: bad cell");
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("x")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace matalign::server
