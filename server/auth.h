// Bearer-token authentication of RPCs. Tokens come from files (ServerConfig::auth); health
// stays open, admin RPCs (ReloadModel, Delete) need an admin token, everything else a
// token of either kind. Without any tokens configured, every call is allowed.
#ifndef MATALIGN_SERVER_AUTH_H_
#define MATALIGN_SERVER_AUTH_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config.h"

namespace matalign::server {

// What a call needs.
enum class Access {
  kOpen,   // health checks, reflection
  kUser,   // every data RPC
  kAdmin,  // ReloadModel, Delete
};

// Immutable after construction; thread-safe.
class TokenAuthenticator {
 public:
  // Reads the token files of `config` (none configured: authentication off). Errors those
  // of ReadTokenFile, naming the file.
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromConfig(const AuthConfig& config);
  // Admin tokens are valid user tokens too.
  TokenAuthenticator(std::vector<std::string> tokens, std::vector<std::string> admin_tokens);

  bool enabled() const { return !tokens_.empty() || !admin_tokens_.empty(); }

  // Checks a call that needs `access`, given the values of its "authorization" metadata.
  // Returns Unauthenticated when a token is needed and missing, malformed (not
  // "Bearer <token>") or unknown; PermissionDenied when a user token calls an admin RPC
  // (`rpc` names it in the message). Tokens are compared in constant time.
  absl::Status Check(Access access, const std::vector<absl::string_view>& authorization,
                     absl::string_view rpc) const;

 private:
  std::vector<std::string> tokens_;
  std::vector<std::string> admin_tokens_;
};

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_AUTH_H_
