#include "common/csv.h"

#include "absl/strings/str_cat.h"

namespace matalign {

absl::StatusOr<std::vector<CsvRow>> ParseCsv(absl::string_view content, absl::string_view source) {
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  int line = 1;
  row.line = 1;
  bool in_quotes = false, field_quoted = false, row_has_data = false;
  int quote_line = 0;
  auto end_field = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    field_quoted = false;
  };
  auto end_row = [&] {
    end_field();
    if (row_has_data || row.fields.size() > 1 || !row.fields[0].empty()) {
      rows.push_back(std::move(row));
    }
    row = CsvRow();
    row.line = line;
    row_has_data = false;
  };
  for (size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < content.size() && content[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    switch (c) {
      case '"':
        if (!field.empty() || field_quoted) {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ": line ", line, ": stray quote inside a field"));
        }
        in_quotes = field_quoted = row_has_data = true;
        quote_line = line;
        break;
      case ',':
        end_field();
        row_has_data = true;
        break;
      case '\r':
        break;
      case '\n':
        ++line;
        end_row();
        break;
      default:
        if (field_quoted) {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ": line ", line, ": text after a closing quote"));
        }
        field.push_back(c);
        row_has_data = true;
    }
  }
  if (in_quotes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line ", quote_line, ": quoted field is never closed"));
  }
  if (!field.empty() || !row.fields.empty() || row_has_data) end_row();
  return rows;
}

}  // namespace matalign
