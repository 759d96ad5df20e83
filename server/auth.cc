#include "server/auth.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace matalign::server {
namespace {

// Equality whose time depends on the lengths only, not on where the strings differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool Contains(const std::vector<std::string>& tokens, absl::string_view token) {
  bool found = false;
  for (const auto& t : tokens) found |= ConstantTimeEquals(t, token);  // no early exit
  return found;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromConfig(
    const AuthConfig& config) {
  std::vector<std::string> tokens, admin;
  if (!config.tokens_file.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(tokens, ReadTokenFile(config.tokens_file));
  }
  if (!config.admin_tokens_file.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(admin, ReadTokenFile(config.admin_tokens_file));
  }
  return std::make_unique<TokenAuthenticator>(std::move(tokens), std::move(admin));
}

TokenAuthenticator::TokenAuthenticator(std::vector<std::string> tokens,
                                       std::vector<std::string> admin_tokens)
    : tokens_(std::move(tokens)), admin_tokens_(std::move(admin_tokens)) {}

absl::Status TokenAuthenticator::Check(Access access,
                                       const std::vector<absl::string_view>& authorization,
                                       absl::string_view rpc) const {
  if (access == Access::kOpen || !enabled()) return absl::OkStatus();
  if (authorization.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        rpc, ": missing bearer token (send metadata 'authorization: Bearer <token>')"));
  }
  if (authorization.size() > 1) {
    return absl::UnauthenticatedError(absl::StrCat(rpc, ": more than one authorization header"));
  }
  absl::string_view value = absl::StripAsciiWhitespace(authorization[0]);
  if (!absl::StartsWithIgnoreCase(value, "bearer ")) {
    return absl::UnauthenticatedError(
        absl::StrCat(rpc, ": authorization must be 'Bearer <token>'"));
  }
  const absl::string_view token = absl::StripAsciiWhitespace(value.substr(7));
  const bool admin = Contains(admin_tokens_, token);
  if (!admin && !Contains(tokens_, token)) {
    return absl::UnauthenticatedError(absl::StrCat(rpc, ": unknown token"));
  }
  if (access == Access::kAdmin && !admin) {
    return absl::PermissionDeniedError(absl::StrCat(rpc, " needs an admin token"));
  }
  return absl::OkStatus();
}

}  // namespace matalign::server
