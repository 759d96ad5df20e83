#include "common/file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace matalign {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadFile(const std::string& path, std::uint64_t max_bytes) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return absl::PermissionDeniedError(absl::StrCat(path, ": cannot access: ", ec.message()));
    }
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (fs::is_directory(st)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a file"));
  }
  const std::uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": file is ", size, " bytes, more than the limit of ", max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::string data;
  if (!ec) data.reserve(size);
  char buf[1 << 16];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": file is larger than the limit of ", max_bytes, " bytes"));
    }
  }
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": read failed"));
  }
  return data;
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view contents) {
  std::error_code ec;
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat(
        path, ": cannot create directory ", target.parent_path().string(), ": ", ec.message()));
  }
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return absl::PermissionDeniedError(
          absl::StrCat(tmp, ": cannot open for writing: ", std::strerror(errno)));
    }
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      return absl::DataLossError(absl::StrCat(tmp, ": write failed"));
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return absl::DataLossError(absl::StrCat(path, ": rename failed: ", ec.message()));
  }
  return absl::OkStatus();
}

std::string Basename(absl::string_view path) {
  const size_t slash = path.find_last_of('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

std::string LowercaseExtension(absl::string_view path) {
  const std::string base = Basename(path);
  const size_t dot = base.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return "";
  return absl::AsciiStrToLower(base.substr(dot + 1));
}

}  // namespace matalign
