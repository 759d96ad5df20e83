#include "common/real_data.h"

#include <cstdlib>
#include <filesystem>

namespace matalign {

std::optional<std::string> RealDataDir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (const char* env = std::getenv("MATALIGN_REAL_DATA"); env != nullptr && *env != '\0') {
    if (fs::is_directory(env, ec)) return std::string(env);
    return std::nullopt;
  }
  for (const fs::path& candidate :
       {fs::path("../shared/data/real"),
        fs::path(MATALIGN_SOURCE_DIR) / ".." / "shared" / "data" / "real"}) {
    if (fs::is_directory(candidate, ec)) {
      return fs::weakly_canonical(candidate, ec).string();
    }
  }
  return std::nullopt;
}

}  // namespace matalign
