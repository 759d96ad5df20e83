#include "text/corpus.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <functional>
#include <istream>
#include <nlohmann/json.hpp>
#include <unordered_set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/file.h"
#include "common/input_file.h"
#include "common/status_macros.h"
#include "text/normalize.h"

namespace matalign::text {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxParagraphFileBytes = 64u << 20;
constexpr std::size_t kMaxJsonLineBytes = 64u << 20;
constexpr std::size_t kMaxQuotedBytes = 60;

// A short, printable excerpt of `s` for error messages (cut at a UTF-8 boundary).
std::string Excerpt(absl::string_view s) {
  if (s.size() <= kMaxQuotedBytes) return std::string(s);
  std::size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(s.substr(0, cut), "...");
}

// nlohmann's parse errors quote the offending input, which may be invalid UTF-8: keep
// printable ASCII, escape every other byte as \xNN, and drop nlohmann's exception prefix
// ("[json.exception.parse_error.101] "). Within one JSON line, "line 1, " says nothing.
std::string DescribeJsonError(const std::string& what, bool single_line) {
  absl::string_view message = what;
  if (absl::StartsWith(message, "[json.exception.")) {
    const std::size_t end = message.find("] ");
    if (end != absl::string_view::npos) message.remove_prefix(end + 2);
  }
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) {
      out.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  if (single_line) out = absl::StrReplaceAll(out, {{"at line 1, column", "at column"}});
  return out;
}

// Replaces the "<...>" elision markers of recipe excerpts by a space and trims.
std::string RemoveElisions(const std::string& text) {
  const std::string replaced = absl::StrReplaceAll(text, {{"<...>", " "}});
  return std::string(absl::StripAsciiWhitespace(replaced));
}

// Streams the records of a recipe file through a SAX parser, keeping only the fields we
// need, so that the 67 MB sol-gel document is never held as a DOM.
class RecipeSaxHandler : public nlohmann::json_sax<nlohmann::json> {
 public:
  enum class Mode { kJsonLines, kDocument };
  struct Record {
    std::string doi;
    std::string paragraph;
    std::size_t index = 0;  // position in the "reactions" array (kDocument)
  };
  // Called once per complete record; returns false to stop parsing.
  using Consumer = std::function<bool(Record&&)>;

  RecipeSaxHandler(Mode mode, Consumer consumer) : mode_(mode), consumer_(std::move(consumer)) {}

  // Prepares for the next JSON Lines record.
  void Reset() {
    stack_.clear();
    record_ = Record();
    has_paragraph_ = false;
    error_.clear();
    error_record_ = kNoRecord;
    stopped_ = false;
  }

  const std::string& error() const { return error_; }
  // Index in "reactions" of the record the error is in, or kNoRecord.
  std::size_t error_record() const { return error_record_; }
  bool stopped() const { return stopped_; }
  bool saw_reactions() const { return saw_reactions_; }
  static constexpr std::size_t kNoRecord = static_cast<std::size_t>(-1);

  bool null() override { return Scalar("null"); }
  bool boolean(bool) override { return Scalar("a boolean"); }
  bool number_integer(number_integer_t) override { return Scalar("a number"); }
  bool number_unsigned(number_unsigned_t) override { return Scalar("a number"); }
  bool number_float(number_float_t, const string_t&) override { return Scalar("a number"); }
  bool binary(binary_t&) override { return Scalar("binary data"); }

  bool string(string_t& value) override {
    const std::size_t slot = BeginValue();
    if (!CheckSlot(slot, "a string")) return false;
    if (InRecord()) {
      const std::string& field = stack_.back().key;
      if (field == "paragraph_string") {
        record_.paragraph = std::move(value);
        has_paragraph_ = true;
      } else if (field == "doi") {
        record_.doi = std::move(value);
      }
    }
    return true;
  }

  bool start_object(std::size_t) override {
    const std::size_t slot = BeginValue();
    if (!CheckSlot(slot, "an object")) return false;
    stack_.push_back(Frame{true, "", 0});
    if (InRecord()) {
      record_ = Record();
      record_.index = slot;
      has_paragraph_ = false;
    }
    return true;
  }

  bool key(string_t& key) override {
    stack_.back().key = std::move(key);
    return true;
  }

  bool end_object() override {
    if (InRecord()) {
      if (!has_paragraph_) return Fail("record has no \"paragraph_string\" field");
      stack_.pop_back();
      if (!consumer_(std::move(record_))) {
        stopped_ = true;
        return false;
      }
      return true;
    }
    if (mode_ == Mode::kDocument && stack_.size() == 1 && !saw_reactions_) {
      return Fail("expected an object with a \"reactions\" array");
    }
    stack_.pop_back();
    return true;
  }

  bool start_array(std::size_t) override {
    const std::size_t slot = BeginValue();
    if (!CheckSlot(slot, "an array")) return false;
    stack_.push_back(Frame{false, "", 0});
    if (IsReactionsArray()) saw_reactions_ = true;
    return true;
  }

  bool end_array() override {
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    error_ =
        absl::StrCat("invalid JSON: ", DescribeJsonError(ex.what(), mode_ == Mode::kJsonLines));
    error_record_ = kNoRecord;
    return false;
  }

 private:
  struct Frame {
    bool is_object;
    std::string key;    // objects: the key of the value being read
    std::size_t count;  // arrays: elements started so far
  };

  // The stack depth of a record object's frame.
  std::size_t RecordDepth() const { return mode_ == Mode::kJsonLines ? 1 : 3; }

  bool IsReactionsArray() const {
    return mode_ == Mode::kDocument && stack_.size() == 2 && !stack_[1].is_object &&
           stack_[0].key == "reactions";
  }

  // True while the innermost open container is a record object.
  bool InRecord() const {
    if (stack_.size() != RecordDepth() || !stack_.back().is_object) return false;
    if (mode_ == Mode::kJsonLines) return true;
    return stack_[0].is_object && !stack_[1].is_object && stack_[0].key == "reactions";
  }

  // Counts a value starting in the innermost container; returns its array index (or 0).
  std::size_t BeginValue() {
    if (stack_.empty() || stack_.back().is_object) return 0;
    return stack_.back().count++;
  }

  // Checks a value of kind `what` starting at the current position against the schema.
  bool CheckSlot(std::size_t slot, const char* what) {
    const bool is_object = absl::string_view(what) == "an object";
    const bool is_array = absl::string_view(what) == "an array";
    if (stack_.empty()) {
      if (is_object) return true;
      return Fail(absl::StrCat(mode_ == Mode::kJsonLines ? "expected a JSON object"
                                                         : "expected a JSON object with a "
                                                           "\"reactions\" array",
                               ", found ", what));
    }
    if (IsReactionsArray() && !is_object) {
      error_record_ = slot;
      return Fail(absl::StrCat("expected a record object, found ", what));
    }
    if (mode_ == Mode::kDocument && stack_.size() == 1 && stack_[0].key == "reactions" &&
        !is_array) {
      return Fail(absl::StrCat("\"reactions\" must be an array, found ", what));
    }
    if (InRecord() && stack_.back().key == "paragraph_string" &&
        absl::string_view(what) != "a string") {
      return Fail(absl::StrCat("\"paragraph_string\" must be a string, found ", what));
    }
    return true;
  }

  bool Scalar(const char* what) {
    const std::size_t slot = BeginValue();
    return CheckSlot(slot, what);
  }

  bool Fail(std::string reason) {
    error_ = std::move(reason);
    if (error_record_ == kNoRecord && mode_ == Mode::kDocument && stack_.size() >= 3 &&
        stack_[0].key == "reactions") {
      error_record_ = stack_[1].count - 1;
    }
    return false;
  }

  Mode mode_;
  Consumer consumer_;
  std::vector<Frame> stack_;
  Record record_;
  bool has_paragraph_ = false;
  bool saw_reactions_ = false;
  bool stopped_ = false;
  std::string error_;
  std::size_t error_record_ = kNoRecord;
};

// A DOI: "10.", a registrant code of 4 to 9 digits, "/", a suffix without spaces.
bool LooksLikeDoi(absl::string_view s) {
  if (!absl::ConsumePrefix(&s, "10.")) return false;
  std::size_t digits = 0;
  while (digits < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[digits]))) {
    ++digits;
  }
  if (digits < 4 || digits > 9 || digits + 1 >= s.size() || s[digits] != '/') return false;
  for (char c : s) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Reads a ".txt" file that is not a paragraph file: one text per non-blank line.
absl::StatusOr<std::vector<SynthesisText>> TextLines(const std::string& path,
                                                     const std::string& contents,
                                                     std::size_t limit) {
  std::vector<SynthesisText> out;
  std::size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    out.push_back(SynthesisText{absl::StrCat(path, ":", line_number), "", "", std::string(line)});
    if (limit > 0 && out.size() >= limit) break;
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no text lines"));
  return out;
}

// Strips ".xz" and returns the remaining lowercase extension ("jsonl", "json", "txt").
std::string RecipeExtension(const std::string& path) {
  std::string lower = absl::AsciiStrToLower(Basename(path));
  if (absl::EndsWith(lower, ".xz")) lower.resize(lower.size() - 3);
  return LowercaseExtension(lower);
}

}  // namespace

absl::StatusOr<SynthesisText> ParseSynthesisParagraph(absl::string_view contents,
                                                      absl::string_view source) {
  MATALIGN_RETURN_IF_ERROR(ValidateUtf8(contents, source));
  absl::string_view body = contents;
  absl::ConsumePrefix(&body, "\xEF\xBB\xBF");  // UTF-8 byte order mark
  std::vector<absl::string_view> lines = absl::StrSplit(body, '\n');
  for (absl::string_view& line : lines) absl::ConsumeSuffix(&line, "\r");
  while (!lines.empty() && absl::StripAsciiWhitespace(lines.back()).empty()) lines.pop_back();
  if (lines.size() < 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": expected at least 3 lines (DOI, title, paragraph), found ", lines.size()));
  }
  SynthesisText out;
  out.source = std::string(source);
  out.doi = std::string(absl::StripAsciiWhitespace(lines[0]));
  if (!LooksLikeDoi(out.doi)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ":1: expected a DOI (\"10.<digits>/<suffix>\"), found \"", Excerpt(out.doi), "\""));
  }
  out.title = std::string(absl::StripAsciiWhitespace(lines[1]));
  std::vector<absl::string_view> paragraph(lines.begin() + 2, lines.end());
  out.text = std::string(absl::StripAsciiWhitespace(absl::StrJoin(paragraph, "\n")));
  if (out.text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no paragraph text after the title (line 3 on)"));
  }
  return out;
}

absl::StatusOr<SynthesisText> ReadSynthesisParagraphFile(const std::string& path) {
  MATALIGN_ASSIGN_OR_RETURN(std::string contents, ReadFile(path, kMaxParagraphFileBytes));
  return ParseSynthesisParagraph(contents, path);
}

absl::StatusOr<std::vector<SynthesisText>> ReadSynthesisParagraphs(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (ec || !fs::exists(st)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  }
  if (!fs::is_directory(st)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": is not a directory"));
  }
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string path = it->path().string();
    if (LowercaseExtension(path) == "txt" && it->is_regular_file(ec)) files.push_back(path);
  }
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": no .txt paragraph files"));
  }
  std::sort(files.begin(), files.end());
  std::vector<SynthesisText> out;
  out.reserve(files.size());
  for (const std::string& path : files) {
    MATALIGN_ASSIGN_OR_RETURN(SynthesisText text, ReadSynthesisParagraphFile(path));
    out.push_back(std::move(text));
  }
  return out;
}

absl::Status RecipeReaderOptions::Validate() const {
  if (max_decompressed_bytes == 0) {
    return absl::InvalidArgumentError("RecipeReaderOptions.max_decompressed_bytes must be > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SynthesisText>> ReadRecipeParagraphs(
    const std::string& path, const RecipeReaderOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const std::string extension = RecipeExtension(path);
  if (extension != "jsonl" && extension != "json") {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": unknown recipe file type (expected .jsonl or .json, optionally .xz)"));
  }
  const bool json_lines = extension == "jsonl";
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<InputFileBuffer> input,
                            InputFileBuffer::Open(path, options.max_decompressed_bytes));

  std::vector<SynthesisText> out;
  std::unordered_set<std::string> seen;
  std::size_t line_number = 0;
  absl::Status record_error;
  auto consume = [&](RecipeSaxHandler::Record&& record) -> bool {
    const std::string where = json_lines ? absl::StrCat(path, ":", line_number)
                                         : absl::StrCat(path, ": reactions[", record.index, "]");
    if (absl::Status s = ValidateUtf8(record.paragraph, where); !s.ok()) {
      record_error = s;
      return false;
    }
    std::string text = RemoveElisions(record.paragraph);
    if (text.empty()) {
      record_error =
          absl::InvalidArgumentError(absl::StrCat(where, ": empty \"paragraph_string\""));
      return false;
    }
    if (options.deduplicate && !seen.insert(text).second) return true;
    out.push_back(SynthesisText{where, std::move(record.doi), "", std::move(text)});
    return options.limit == 0 || out.size() < options.limit;
  };
  RecipeSaxHandler handler(
      json_lines ? RecipeSaxHandler::Mode::kJsonLines : RecipeSaxHandler::Mode::kDocument, consume);

  try {
    if (json_lines) {
      std::string line;
      while (input->ReadLine(&line, kMaxJsonLineBytes, line_number + 1)) {
        ++line_number;
        if (absl::StripAsciiWhitespace(line).empty()) continue;
        handler.Reset();
        nlohmann::json::sax_parse(line, &handler);
        if (!record_error.ok()) return record_error;
        if (handler.stopped()) break;
        if (!handler.error().empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ":", line_number, ": ", handler.error()));
        }
      }
      MATALIGN_RETURN_IF_ERROR(input->status());
    } else {
      std::istream stream(input.get());
      nlohmann::json::sax_parse(stream, &handler);
      if (!record_error.ok()) return record_error;
      if (!handler.stopped()) {
        // A decompression error shows up as a truncated document: report it first.
        MATALIGN_RETURN_IF_ERROR(input->status());
        if (!handler.error().empty()) {
          if (handler.error_record() != RecipeSaxHandler::kNoRecord) {
            return absl::InvalidArgumentError(
                absl::StrCat(path, ": reactions[", handler.error_record(), "]: ", handler.error()));
          }
          return absl::InvalidArgumentError(absl::StrCat(path, ": ", handler.error()));
        }
        if (!handler.saw_reactions()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": expected an object with a \"reactions\" array"));
        }
      }
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot parse: ", e.what()));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no recipe records"));
  }
  return out;
}

absl::StatusOr<std::vector<SynthesisText>> ReadCorpus(const std::string& path, std::size_t limit) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    MATALIGN_ASSIGN_OR_RETURN(std::vector<SynthesisText> texts, ReadSynthesisParagraphs(path));
    if (limit > 0 && texts.size() > limit) texts.resize(limit);
    return texts;
  }
  const std::string extension = RecipeExtension(path);
  if (extension == "jsonl" || extension == "json") {
    RecipeReaderOptions options;
    options.limit = limit;
    return ReadRecipeParagraphs(path, options);
  }
  if (extension == "txt") {
    MATALIGN_ASSIGN_OR_RETURN(std::string contents, ReadFile(path));
    MATALIGN_RETURN_IF_ERROR(ValidateUtf8(contents, path));
    absl::string_view first_line =
        absl::StripAsciiWhitespace(absl::string_view(contents).substr(0, contents.find('\n')));
    absl::ConsumePrefix(&first_line, "\xEF\xBB\xBF");
    if (LooksLikeDoi(first_line)) {
      MATALIGN_ASSIGN_OR_RETURN(SynthesisText text, ParseSynthesisParagraph(contents, path));
      return std::vector<SynthesisText>{std::move(text)};
    }
    return TextLines(path, contents, limit);
  }
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  return absl::InvalidArgumentError(
      absl::StrCat(path,
                   ": unknown corpus type (expected a directory of .txt paragraph files, a .txt "
                   "paragraph file, or a .jsonl/.json recipe file, optionally .xz)"));
}

}  // namespace matalign::text
