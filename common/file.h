// Whole-file reading and atomic writing with errors as absl::Status.
#ifndef MATALIGN_COMMON_FILE_H_
#define MATALIGN_COMMON_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign {

// Default upper bound for ReadFile: input files larger than this are refused.
inline constexpr std::uint64_t kDefaultMaxFileBytes = 256ull << 20;  // 256 MiB

// Reads the whole file at `path`. Returns NotFound if it does not exist,
// InvalidArgument if it is a directory or larger than `max_bytes`.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     std::uint64_t max_bytes = kDefaultMaxFileBytes);

// Writes `contents` to `path` atomically: a temporary file in the same directory is
// written, flushed and renamed over `path`. Creates parent directories.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view contents);

// Returns the final component of `path` ("a/b/c.cif" -> "c.cif").
std::string Basename(absl::string_view path);

// Returns the lowercase extension of `path` without the dot ("x.CIF" -> "cif"), or "".
std::string LowercaseExtension(absl::string_view path);

}  // namespace matalign

#endif  // MATALIGN_COMMON_FILE_H_
