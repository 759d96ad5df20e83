#include "mmclient/progress.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace matalign::mmclient {

absl::StatusOr<std::unordered_set<std::string>> ProgressFile::ReadIds(const std::string& path) {
  std::unordered_set<std::string> ids;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ids;
  MATALIGN_ASSIGN_OR_RETURN(std::string text, ReadFile(path, uint64_t{1} << 32));
  const size_t end = text.rfind('\n');
  if (end == std::string::npos) return ids;  // no complete line
  for (absl::string_view line : absl::StrSplit(absl::string_view(text).substr(0, end), '\n')) {
    if (!line.empty()) ids.emplace(line);
  }
  return ids;
}

absl::StatusOr<std::unique_ptr<ProgressFile>> ProgressFile::Open(const std::string& path,
                                                                 bool truncate) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!truncate && fs::exists(path, ec)) {
    // Cut a torn last line, so the next id starts on a line of its own.
    MATALIGN_ASSIGN_OR_RETURN(std::string text, ReadFile(path, uint64_t{1} << 32));
    const size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (keep != text.size()) {
      fs::resize_file(path, keep, ec);
      if (ec) {
        return absl::InternalError(
            absl::StrCat(path, ": cannot cut the torn last line: ", ec.message()));
      }
    }
  }
  std::FILE* file = std::fopen(path.c_str(), truncate ? "w" : "a");
  if (file == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot open for appending: ", std::strerror(errno)));
  }
  return std::unique_ptr<ProgressFile>(new ProgressFile(path, file));
}

ProgressFile::~ProgressFile() { std::fclose(file_); }

absl::Status ProgressFile::Append(absl::string_view id) {
  if (id.empty() || id.find_first_of("\r\n") != absl::string_view::npos) {
    return absl::OkStatus();
  }
  if (std::fwrite(id.data(), 1, id.size(), file_) != id.size() || std::fputc('\n', file_) == EOF ||
      std::fflush(file_) != 0) {
    return absl::InternalError(absl::StrCat(path_, ": write failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

ProgressDisplay::ProgressDisplay(std::ostream& err, int64_t total, bool tty, bool quiet,
                                 std::function<absl::Time()> now)
    : err_(err), total_(total), tty_(tty), quiet_(quiet), now_(std::move(now)), start_(now_()) {}

std::string ProgressDisplay::Line() const {
  const double seconds = absl::ToDoubleSeconds(now_() - start_);
  const double rate = seconds > 0 ? done_ / seconds : 0;
  const int percent = total_ > 0 ? static_cast<int>(100 * done_ / total_) : 100;
  return absl::StrFormat("%lld/%lld records (%d%%), %.1f records/s", static_cast<long long>(done_),
                         static_cast<long long>(total_), percent, rate);
}

void ProgressDisplay::Draw() {
  constexpr int kBarWidth = 30;
  const int filled = total_ > 0 ? static_cast<int>(kBarWidth * done_ / total_) : kBarWidth;
  err_ << "\r\033[K[" << std::string(filled, '#') << std::string(kBarWidth - filled, '.') << "] "
       << Line() << std::flush;
  drawn_ = true;
}

void ProgressDisplay::Update(int64_t done) {
  done_ = done;
  if (quiet_ || total_ <= 0) return;
  if (tty_) {
    const int percent = static_cast<int>(100 * done_ / total_);
    if (percent != last_percent_) {
      last_percent_ = percent;
      Draw();
    }
    return;
  }
  const int decile = static_cast<int>(10 * done_ / total_);
  if (decile > last_decile_) {
    last_decile_ = decile;
    err_ << "ingest: " << Line() << "\n" << std::flush;
  }
}

void ProgressDisplay::Note(std::ostream& out, absl::string_view line) {
  if (drawn_) err_ << "\r\033[K" << std::flush;
  out << line << "\n" << std::flush;
  if (drawn_) Draw();
}

void ProgressDisplay::Finish() {
  if (drawn_) err_ << "\n" << std::flush;
  drawn_ = false;
}

}  // namespace matalign::mmclient
