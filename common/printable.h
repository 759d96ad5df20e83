// Quoting untrusted input in messages.
#ifndef MATALIGN_COMMON_PRINTABLE_H_
#define MATALIGN_COMMON_PRINTABLE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace matalign {

// `s` with printable ASCII kept and every other byte written as \xNN, so that an error
// message quoting file content is always valid, printable text.
std::string Printable(absl::string_view s);

}  // namespace matalign

#endif  // MATALIGN_COMMON_PRINTABLE_H_
