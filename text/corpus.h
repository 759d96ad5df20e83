// Readers for the synthesis-text corpora in the real data:
//
//  - synthesis paragraph files (synthesis_text/*.txt): line 1 is the DOI, line 2 the paper
//    title, the remaining lines the synthesis paragraph(s). In 6 of the 215 files line 2 is
//    blank; the title, if there is one, is then the first line of the text (no guessing);
//  - text-mined recipe collections (recipes/solid_state_recipes.jsonl.xz: one JSON object
//    per line; recipes/sol_gel_recipes.json.xz: one JSON object {"reactions": [...]}) whose
//    "paragraph_string" field holds an excerpt of the paragraph. The excerpts contain "<...>"
//    elision markers, which are replaced by a space.
//
// The readers return the text as found (elision markers aside); pass it through
// NormalizeText (text/normalize.h) or the Tokenizer, which normalizes. Every malformed
// input is reported as InvalidArgument naming the file (and line or record) and the
// reason.
#ifndef MATALIGN_TEXT_CORPUS_H_
#define MATALIGN_TEXT_CORPUS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign::text {

struct SynthesisText {
  // Where the text came from: the file, "file:line" (JSON Lines) or "file:reactions[i]".
  std::string source;
  std::string doi;
  // Paper title; empty for recipes, which carry none.
  std::string title;
  // The paragraph text, UTF-8, not normalized. Multi-line paragraphs keep their "\n".
  std::string text;
};

// Parses the contents of one synthesis paragraph file. `source` names it in errors.
// Errors (InvalidArgument "<source>: ..."): invalid UTF-8 (with the byte offset), fewer
// than three lines, a first line that is not a DOI ("10.<4-9 digits>/<suffix>"), no
// paragraph text.
absl::StatusOr<SynthesisText> ParseSynthesisParagraph(absl::string_view contents,
                                                      absl::string_view source);

// Reads one synthesis paragraph file. Errors as ParseSynthesisParagraph, plus NotFound.
absl::StatusOr<SynthesisText> ReadSynthesisParagraphFile(const std::string& path);

// Reads every "*.txt" file directly in `dir` (other files, e.g. LICENSE, are ignored), in
// file-name order. Errors: NotFound if `dir` is missing, InvalidArgument if it is not a
// directory, holds no .txt file, or any file is malformed (the first error is returned).
absl::StatusOr<std::vector<SynthesisText>> ReadSynthesisParagraphs(const std::string& dir);

struct RecipeReaderOptions {
  // Stop after this many paragraphs (after de-duplication); 0 reads all.
  // Default: 0.
  std::size_t limit = 0;
  // Return each distinct paragraph once. The recipe files list one record per reaction,
  // so a paragraph describing several targets repeats (27162 records, 20049 distinct in
  // solid_state_recipes).
  // Default: true.
  bool deduplicate = true;
  // Largest decompressed size read from a file; protects against decompression bombs.
  // Default: 1 GiB.
  std::size_t max_decompressed_bytes = std::size_t{1} << 30;

  absl::Status Validate() const;
};

// Reads the "paragraph_string" (and "doi") of every record of a recipe file, in file
// order. The format follows the name with any ".xz" suffix removed: ".jsonl" is JSON
// Lines (one record object per line; blank lines are skipped), ".json" one object whose
// "reactions" array holds the records. Either may be xz-compressed (detected from the
// content). Errors: NotFound; InvalidArgument "<path>:<line>: ..." for a malformed JSON
// line, "<path>: reactions[i]: ..." for a bad record of a .json file, a record without a
// string "paragraph_string" or with an empty one, invalid UTF-8, corrupt or truncated xz
// data, or an unknown extension.
absl::StatusOr<std::vector<SynthesisText>> ReadRecipeParagraphs(
    const std::string& path, const RecipeReaderOptions& options = {});

// Reads a corpus given as one path, for command-line tools (`mmdata tokenizer train
// --corpus PATH`):
//  - a directory: its paragraph files (ReadSynthesisParagraphs);
//  - a recipe file, .jsonl or .json, optionally .xz (ReadRecipeParagraphs, de-duplicated);
//  - a ".txt" file whose first line is a DOI: one paragraph file;
//  - any other ".txt" file: one text per non-blank line (source "file:line").
// `limit` (0 = all) caps the number of texts returned. Errors as the readers above;
// InvalidArgument for an unknown file type or a file without text.
absl::StatusOr<std::vector<SynthesisText>> ReadCorpus(const std::string& path,
                                                      std::size_t limit = 0);

}  // namespace matalign::text

#endif  // MATALIGN_TEXT_CORPUS_H_
