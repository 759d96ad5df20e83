// Resumable ingest: the progress file of accepted ids, and the progress display.
#ifndef MATALIGN_MMCLIENT_PROGRESS_H_
#define MATALIGN_MMCLIENT_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <unordered_set>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace matalign::mmclient {

// The ids of records the server accepted, one per line ("<manifest>.ingested"), appended
// and flushed as each acknowledgement arrives, so that a run killed at any point leaves
// every id it reported durable-on-the-server in the file (at worst the last line is torn,
// and a torn line is never read as an id). Not thread-safe.
class ProgressFile {
 public:
  // The ids in the file at `path`; an absent file has none. Blank lines and a last line
  // without its newline (torn by a crash) are ignored. Errors: those of ReadFile.
  static absl::StatusOr<std::unordered_set<std::string>> ReadIds(const std::string& path);

  // Opens `path` for appending, creating it if needed: emptied first if `truncate`, else a
  // torn last line is cut off. Errors: PermissionDenied/Internal naming the file.
  static absl::StatusOr<std::unique_ptr<ProgressFile>> Open(const std::string& path, bool truncate);

  ~ProgressFile();
  ProgressFile(const ProgressFile&) = delete;
  ProgressFile& operator=(const ProgressFile&) = delete;

  // Appends `id` and a newline and flushes to the operating system. An id containing a
  // line break cannot be stored and is skipped (such a record is sent again on resume).
  // Errors: Internal naming the file on a write error.
  absl::Status Append(absl::string_view id);

  const std::string& path() const { return path_; }

 private:
  ProgressFile(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}

  std::string path_;
  std::FILE* file_;  // owned
};

// Shows how far an ingest got on stderr: on a terminal, one line redrawn in place with a
// bar, the count, the percentage and the rate (redrawn when the percentage changes);
// otherwise a plain line at every 10 % (so logs stay short). Not thread-safe.
class ProgressDisplay {
 public:
  // `total`: records this run sends. `tty`: whether `err` is a terminal. `quiet`: show
  // nothing but notes. `now` is the clock (injectable for tests).
  ProgressDisplay(std::ostream& err, int64_t total, bool tty, bool quiet,
                  std::function<absl::Time()> now = &absl::Now);

  // Records that `done` records are acknowledged.
  void Update(int64_t done);
  // Writes `line` (and a newline) to `out` without garbling the bar: clears it first and
  // redraws it after.
  void Note(std::ostream& out, absl::string_view line);
  // Ends the bar's line (terminal only).
  void Finish();

 private:
  std::string Line() const;
  void Draw();

  std::ostream& err_;
  const int64_t total_;
  const bool tty_;
  const bool quiet_;
  std::function<absl::Time()> now_;
  absl::Time start_;
  int64_t done_ = 0;
  int last_percent_ = -1;  // last percentage drawn (terminal)
  int last_decile_ = 0;    // last 10 % step printed (plain)
  bool drawn_ = false;     // a bar line is on the terminal
};

}  // namespace matalign::mmclient

#endif  // MATALIGN_MMCLIENT_PROGRESS_H_
