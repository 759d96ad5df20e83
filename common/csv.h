// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
#ifndef MATALIGN_COMMON_CSV_H_
#define MATALIGN_COMMON_CSV_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign {

struct CsvRow {
  int line = 0;  // 1-based line on which the row starts
  std::vector<std::string> fields;
};

// Parses all rows of `content` (the header row included). Returns InvalidArgument naming
// `source` and the line for an unterminated quote or a stray quote inside an unquoted field.
// Rows may have different field counts; callers check them.
absl::StatusOr<std::vector<CsvRow>> ParseCsv(absl::string_view content, absl::string_view source);

}  // namespace matalign

#endif  // MATALIGN_COMMON_CSV_H_
