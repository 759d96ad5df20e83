// The MatAlign manifest: JSON Lines, one Record per line (schema in docs/data-format.md).
// Paths in a manifest (structure.path, images[].path) are relative to the manifest's
// directory.
#ifndef MATALIGN_CORPUS_MANIFEST_H_
#define MATALIGN_CORPUS_MANIFEST_H_

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "corpus/record.h"

namespace matalign::corpus {

// Structure formats a manifest may name: "cif" | "poscar" | "xyz".
bool IsKnownStructureFormat(absl::string_view format);
// Image kinds a manifest may name: "sem" | "xrd".
bool IsKnownImageKind(absl::string_view kind);

// Checks everything about `record` that can be checked without its neighbours or the file
// system: non-empty id, structure with exactly one of path/text and a known format, relative
// non-empty paths, image kinds, finite numbers, non-negative temperatures and times,
// composition amounts > 0 with known element symbols. Returns InvalidArgument with the
// reason (no source prefix; callers add it).
absl::Status ValidateRecord(const Record& record);

// Serializes `record` as one JSON object on one line (no trailing newline). Keys come in a
// fixed order (id, class, split, source, composition, structure, synthesis, images,
// properties, labels); empty optional fields are omitted. Doubles are written in their
// shortest round-trip form, so ParseRecordJson(RecordToJsonLine(r)) == r. Invalid UTF-8 in
// strings is replaced by U+FFFD. Requires finite numbers (non-finite ones are written as
// null, which the reader rejects; ValidateRecord catches them first).
std::string RecordToJsonLine(const Record& record);

// Parses and validates one manifest line. `source` (the manifest file) and `line_number`
// (1-based) prefix every error: InvalidArgument "<source>:<line>: <reason>" for bad JSON,
// a missing or mistyped field, an unknown key or enum value, or anything ValidateRecord
// rejects.
absl::StatusOr<Record> ParseRecordJson(absl::string_view line, absl::string_view source,
                                       int line_number);

struct ManifestReadOptions {
  // Check that every referenced file (structure.path, images[].path, relative to the
  // manifest's directory) exists. Default: false.
  bool check_files = false;

  absl::Status Validate() const { return absl::OkStatus(); }
};

// Reads the manifest at `path`, validating every line (blank lines are skipped) and that
// ids are unique. Returns the records in file order. Errors: NotFound if the file is
// missing; InvalidArgument "<path>: <n> invalid line(s)" followed by the first up to 10 as
// "\n<path>:<line>: <reason>" if any line is bad.
absl::StatusOr<std::vector<Record>> ReadManifest(const std::string& path,
                                                 const ManifestReadOptions& options = {});

// Streams records to a manifest file. Lines go to "<path>.tmp", which Close() flushes and
// renames to `path`, so a crash never leaves a partial manifest under the final name; a
// writer destroyed without Close() removes the temporary file. Not thread-safe: callers
// that generate in parallel append from one thread, in order.
// Counts for a summary of `records`: "class <name>", "split <name>", "image <kind>",
// "with structure", "with synthesis" -> number of records (images: number of images).
std::map<std::string, int64_t> CountManifest(const std::vector<Record>& records);

class ManifestWriter {
 public:
  // Creates the parent directories of `path` and opens "<path>.tmp" for writing.
  // Errors: InvalidArgument for an empty path, Internal if the file cannot be created.
  static absl::StatusOr<std::unique_ptr<ManifestWriter>> Create(const std::string& path);
  ~ManifestWriter();
  ManifestWriter(const ManifestWriter&) = delete;
  ManifestWriter& operator=(const ManifestWriter&) = delete;

  // Validates `record` (ValidateRecord, and that its id was not appended before) and writes
  // its line. Errors: InvalidArgument "<path>: record '<id>': <reason>"; Internal on a write
  // error; FailedPrecondition after Close().
  absl::Status Append(const Record& record);
  // Flushes, closes and renames the temporary file to the final path. Errors: Internal on
  // an I/O error; FailedPrecondition if already closed.
  absl::Status Close();

  // Records appended so far.
  size_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  ManifestWriter(std::string path, std::FILE* file);

  std::string path_;
  std::FILE* file_ = nullptr;  // owned; null after Close()
  size_t count_ = 0;
  std::unordered_set<std::string> ids_;  // ids appended so far, for the uniqueness check
};

// Writes `records` as a new manifest at `path` (through ManifestWriter). Their file paths
// (structure.path, images[].path) are relative to `records_dir`, the directory of the manifest
// they were read from, and are rewritten relative to the new manifest's directory, so a
// derived manifest (other splits, a subset, relabelled records) can live anywhere.
// Errors: those of ManifestWriter.
absl::Status WriteDerivedManifest(const std::string& path, const std::vector<Record>& records,
                                  const std::string& records_dir);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_MANIFEST_H_
