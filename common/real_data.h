// Where the public real-data files live. They are read at run time, never copied into
// the repository.
#ifndef MATALIGN_COMMON_REAL_DATA_H_
#define MATALIGN_COMMON_REAL_DATA_H_

#include <optional>
#include <string>

namespace matalign {

// Returns the real-data directory: $MATALIGN_REAL_DATA if set, else ../shared/data/real
// relative to the current directory, else ../shared/data/real next to the source tree.
// Returns std::nullopt when none of them exists.
std::optional<std::string> RealDataDir();

}  // namespace matalign

#endif  // MATALIGN_COMMON_REAL_DATA_H_
