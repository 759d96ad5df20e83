// The on-disk model bundle: what the trainer writes and the server loads.
//
// A models directory holds one subdirectory per bundle version, like Triton's model
// repository:
//
//   <models_dir>/
//     1/manifest.json, graph_encoder.pt, tokenizer.model, ...
//     2/...
//     .tmp-3-1234-9f1c2a.../   a bundle being written (never read)
//
// A version is a positive decimal integer without leading zeros ("1", "2", ..., at most 18
// digits). manifest.json is a JSON object: whatever the trainer puts there (model
// hyper-parameters, metrics, ...) plus the keys this library owns:
//
//   "format_version": 1                      kBundleFormatVersion of the writer
//   "version": "3"                           the bundle version, as a string
//   "created": "2024-05-01T12:34:56Z"        UTC, ISO-8601, second resolution
//   "files": {"graph_encoder.pt": {"bytes": 1234, "sha256": "<64 lowercase hex>"}, ...}
//
// File contents are opaque bytes here; this library never includes LibTorch or
// SentencePiece. A bundle appears in models_dir atomically (a temporary directory renamed
// into place), so a reader sees either the whole bundle or nothing.
//
// Thread-safety: every function here is safe to call concurrently, also from several
// processes on the same models_dir.
#ifndef MATALIGN_BUNDLE_BUNDLE_H_
#define MATALIGN_BUNDLE_BUNDLE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace matalign::bundle {

// The manifest layout this build writes, and the newest one it reads.
inline constexpr int kBundleFormatVersion = 1;

// Name of the manifest inside a bundle directory.
inline constexpr char kManifestFileName[] = "manifest.json";

// Prefix of the temporary directories WriteBundle creates inside models_dir. Directories
// with this prefix are never bundles.
inline constexpr char kTempDirPrefix[] = ".tmp-";

// Returns OK if `version` is a valid bundle version: 1 to 18 decimal digits, the first not
// '0'. Otherwise InvalidArgument naming the value.
absl::Status ValidateVersion(absl::string_view version);

// Returns OK if `name` may name a file in a bundle: a plain file name, non-empty, at most
// 255 bytes, without '/' or NUL, not starting with '.' (which also excludes "." and ".."),
// and not "manifest.json". Otherwise InvalidArgument naming the value and the reason.
absl::Status ValidateFileName(absl::string_view name);

struct WriteBundleOptions {
  // The version to write, e.g. "7" (see ValidateVersion). If that version exists already,
  // WriteBundle fails with AlreadyExists.
  // Default: "" = one more than the largest existing version (1 in an empty models_dir);
  // when a concurrent writer takes that number first, the next free one is used.
  std::string version;

  // Returns InvalidArgument if `version` is neither empty nor a valid version.
  absl::Status Validate() const;
};

// Writes a new bundle into `models_dir` (created if missing) and returns its directory,
// "<models_dir>/<version>".
//
// `manifest` must be a JSON object (or null, meaning {}); it is stored with the keys
// "format_version", "version", "created" and "files" set by this function (any values the
// caller put there are replaced, so a manifest read from another bundle can be passed
// back in). `files` maps file names (see ValidateFileName) to their contents.
//
// Everything is written into a temporary directory "<models_dir>/.tmp-<version>-<pid>-<rnd>",
// fsynced, and renamed to "<models_dir>/<version>"; a reader never sees a partial bundle.
// The temporary directory is removed on every failure.
//
// Errors: InvalidArgument for bad options, a non-object manifest or a bad file name (before
// anything is written); AlreadyExists if options.version is set and that version exists;
// otherwise the errno-derived status (e.g. PermissionDenied, ResourceExhausted for a full
// disk) with the path that failed.
absl::StatusOr<std::string> WriteBundle(const std::string& models_dir, nlohmann::json manifest,
                                        const std::map<std::string, std::string>& files,
                                        const WriteBundleOptions& options = {});

// A bundle read from disk and verified.
struct Bundle {
  // The bundle directory, as passed to ReadBundle.
  std::string dir;
  // The manifest's "version".
  std::string version;
  // The whole manifest, including the keys WriteBundle owns.
  nlohmann::json manifest;
  // File name -> contents, exactly the files the manifest lists.
  std::map<std::string, std::string> files;

  // Returns the contents of file `name` (a view into `files`, valid while this Bundle
  // lives and `files` is not modified), or NotFound naming the bundle, the file and the
  // files the bundle does have.
  absl::StatusOr<absl::string_view> File(absl::string_view name) const;
};

// Reads the bundle in directory `dir` and verifies it against its manifest.
//
// Checks: manifest.json parses; "format_version" is an integer >= 1 and not newer than
// kBundleFormatVersion; "version" is a valid version string that matches the directory name
// when that name is a version (a bundle may also be read from a directory with another
// name, e.g. a staging copy); "created" is a string; "files" is an object of valid file
// names, each {"bytes": <non-negative integer>, "sha256": <64 lowercase hex>}; and every
// listed file exists with exactly that size and SHA-256. Files and subdirectories that the
// manifest does not list are ignored (and not loaded), so a stray editor backup or a README
// next to the weights does not break serving.
//
// Errors (every message names the bundle directory and, where there is one, the file):
//   NotFound           `dir` or its manifest.json does not exist.
//   FailedPrecondition the manifest's format_version is newer than this build reads
//                      ("bundle <dir> has format_version 7; this build reads 1"), or its
//                      version differs from the directory name.
//   DataLoss           manifest.json is not valid JSON (e.g. truncated), or a listed file is
//                      missing, has the wrong size, or the wrong SHA-256 (expected vs actual).
//   InvalidArgument    manifest.json is valid JSON but breaks the schema above, or `dir` is
//                      not a directory.
absl::StatusOr<Bundle> ReadBundle(const std::string& dir);

// Returns the versions present in `models_dir`, sorted numerically ("9" before "10"): the
// names of its subdirectories (or symlinks to directories) that are valid versions.
// Temporary directories and other names are skipped. The bundles are not opened, so a
// listed version may still fail ReadBundle.
// Errors: NotFound if `models_dir` does not exist; InvalidArgument if it is not a directory;
// the errno-derived status if it cannot be listed. An empty models_dir gives an empty list.
absl::StatusOr<std::vector<std::string>> ListVersions(const std::string& models_dir);

// Returns "<models_dir>/<v>" for the largest version v of ListVersions (without opening
// it). Errors: those of ListVersions, and NotFound "no model bundle in <models_dir> ..." if
// there is no version.
absl::StatusOr<std::string> LatestBundleDir(const std::string& models_dir);

// Returns the SHA-256 of `bytes` as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view bytes);

}  // namespace matalign::bundle

#endif  // MATALIGN_BUNDLE_BUNDLE_H_
