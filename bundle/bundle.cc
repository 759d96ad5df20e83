#include "bundle/bundle.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "common/printable.h"
#include "common/status_macros.h"

namespace matalign::bundle {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Longest accepted version string; 18 digits keep version + 1 inside uint64_t.
constexpr size_t kMaxVersionDigits = 18;
// manifest.json larger than this is refused (it holds metadata, not weights).
constexpr std::uint64_t kMaxManifestBytes = 64ull << 20;
// How often WriteBundle moves on to the next version when concurrent writers keep taking
// the one it chose, before giving up.
constexpr int kMaxVersionAttempts = 1000;

// Status for a failed system call on `path`: the code follows errno (EACCES ->
// PermissionDenied, ENOSPC -> ResourceExhausted, ...), the message is
// "<what> <path>: <strerror>".
absl::Status ErrnoError(int err, absl::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path));
}

absl::Status FsError(const std::error_code& ec, absl::string_view what, const std::string& path) {
  if (ec.category() == std::generic_category() || ec.category() == std::system_category()) {
    return ErrnoError(ec.value(), what, path);
  }
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", ec.message()));
}

std::string JoinPath(const std::string& dir, absl::string_view name) {
  return (fs::path(dir) / std::string(name)).string();
}

// Numeric order of two valid version strings (no leading zeros, so length first).
bool VersionLess(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

// Writes `bytes` to `path` and fsyncs it. With `exclusive`, fails if `path` exists.
absl::Status WriteAndSync(const std::string& path, absl::string_view bytes, bool exclusive) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
  const int fd = ::open(path.c_str(), flags, 0666);
  if (fd < 0) return ErrnoError(errno, "cannot create", path);
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoError(err, "cannot write", path);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(err, "cannot fsync", path);
  }
  if (::close(fd) != 0) return ErrnoError(errno, "cannot close", path);
  return absl::OkStatus();
}

// Makes the entries of directory `dir` (creations, renames) durable.
absl::Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "cannot open directory", dir);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(err, "cannot fsync directory", dir);
  }
  ::close(fd);
  return absl::OkStatus();
}

// Renames directory `from` to `to`, failing with EEXIST/ENOTEMPTY (returned as the errno
// value; 0 on success) if `to` exists. Plain rename(2) would silently replace an empty
// directory `to`, so RENAME_NOREPLACE is used where the file system supports it.
int RenameNoReplace(const std::string& from, const std::string& to) {
#ifdef RENAME_NOREPLACE
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
#endif
  struct stat st;
  if (::lstat(to.c_str(), &st) == 0) return EEXIST;
  if (::rename(from.c_str(), to.c_str()) == 0) return 0;
  return errno;
}

std::string UtcNowIso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string RandomHex() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// Removes a temporary directory (recursively) when destroyed, unless Release()d.
class TempDirGuard {
 public:
  TempDirGuard() = default;
  ~TempDirGuard() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);  // Best effort: the caller already reports the real error.
  }
  TempDirGuard(const TempDirGuard&) = delete;
  TempDirGuard& operator=(const TempDirGuard&) = delete;
  void Set(std::string path) { path_ = std::move(path); }
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

// Creates "<models_dir>/.tmp-<version>-<pid>-<random>" (mode 0777 & ~umask, like any other
// directory, so the renamed bundle is readable by the server's user).
absl::StatusOr<std::string> MakeTempDir(const std::string& models_dir, const std::string& version) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string path = JoinPath(
        models_dir, absl::StrCat(kTempDirPrefix, version, "-", ::getpid(), "-", RandomHex()));
    if (::mkdir(path.c_str(), 0777) == 0) return path;
    if (errno != EEXIST) return ErrnoError(errno, "cannot create directory", path);
  }
  return absl::InternalError(
      absl::StrCat("cannot create a unique temporary directory in ", models_dir));
}

// Largest version in `models_dir` plus one ("1" if there is none).
absl::StatusOr<std::uint64_t> NextVersion(const std::string& models_dir) {
  MATALIGN_ASSIGN_OR_RETURN(std::vector<std::string> versions, ListVersions(models_dir));
  if (versions.empty()) return 1;
  std::uint64_t last = 0;
  if (!absl::SimpleAtoi(versions.back(), &last)) {
    return absl::InternalError(absl::StrCat("unparsable version ", versions.back()));
  }
  return last + 1;
}

std::string ManifestText(const json& manifest) {
  // error_handler_t::replace: invalid UTF-8 in caller strings becomes U+FFFD, not a throw.
  return manifest.dump(2, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace) + "\n";
}

bool IsLowerHexSha256(const std::string& s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The bundle version that the directory name `dir` implies, or "" if its last component is
// not a version.
std::string DirVersion(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "models/3/" -> "models/3"
  const std::string name = p.filename().string();
  return ValidateVersion(name).ok() ? name : "";
}

// Checks the manifest schema (everything ReadBundle checks that needs no file access).
absl::Status ValidateManifest(const std::string& dir, const json& m) {
  const std::string where = absl::StrCat("bundle ", dir, ": ", kManifestFileName);
  if (!m.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": top level must be a JSON object, got ", m.type_name()));
  }
  const auto fv = m.find("format_version");
  if (fv == m.end()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": missing key \"format_version\""));
  }
  if (!fv->is_number_integer() ||
      (fv->is_number_unsigned() ? fv->get<std::uint64_t>() == 0 : fv->get<std::int64_t>() < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"format_version\" must be an integer >= 1, got ", fv->dump()));
  }
  if (fv->get<std::uint64_t>() > static_cast<std::uint64_t>(kBundleFormatVersion)) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", dir, " has format_version ",
                                                      fv->get<std::uint64_t>(),
                                                      "; this build reads ", kBundleFormatVersion));
  }

  const auto version = m.find("version");
  if (version == m.end()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": missing key \"version\""));
  }
  if (!version->is_string() || !ValidateVersion(version->get<std::string>()).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": \"version\" must be a string holding a positive integer, got ", version->dump()));
  }
  const std::string dir_version = DirVersion(dir);
  if (!dir_version.empty() && dir_version != version->get<std::string>()) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, " says version ", version->get<std::string>(),
                     " but the directory is version ", dir_version));
  }

  const auto created = m.find("created");
  if (created == m.end() || !created->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"created\" must be a string (UTC ISO-8601)"));
  }

  const auto files = m.find("files");
  if (files == m.end() || !files->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"files\" must be an object {name: {\"bytes\", \"sha256\"}}"));
  }
  for (const auto& [name, entry] : files->items()) {
    if (absl::Status s = ValidateFileName(name); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": \"files\": ", s.message()));
    }
    const std::string entry_where = absl::StrCat(where, ": \"files\": \"", Printable(name), "\"");
    if (!entry.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry_where, " must be an object {\"bytes\", \"sha256\"}"));
    }
    const auto bytes = entry.find("bytes");
    if (bytes == entry.end() || !bytes->is_number_unsigned()) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry_where, ": \"bytes\" must be a non-negative integer"));
    }
    const auto sha = entry.find("sha256");
    if (sha == entry.end() || !sha->is_string() || !IsLowerHexSha256(sha->get<std::string>())) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry_where, ": \"sha256\" must be 64 lowercase hex digits"));
    }
  }
  return absl::OkStatus();
}

// Reads file `name` of the bundle in `dir` and checks it against its manifest entry.
absl::StatusOr<std::string> ReadVerifiedFile(const std::string& dir, const std::string& name,
                                             std::uint64_t expected_bytes,
                                             const std::string& expected_sha256) {
  const std::string path = JoinPath(dir, name);
  const std::string where = absl::StrCat("bundle ", dir, ": file ", Printable(name));
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return FsError(ec, absl::StrCat(where, ": cannot access"), path);
    }
    return absl::DataLossError(
        absl::StrCat(where, " is listed in ", kManifestFileName, " but missing"));
  }
  if (!fs::is_regular_file(st)) {
    return absl::DataLossError(absl::StrCat(where, " is not a regular file"));
  }
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) return FsError(ec, absl::StrCat(where, ": cannot stat"), path);
  if (size != expected_bytes) {
    return absl::DataLossError(absl::StrCat(where, " has the wrong size: expected ", expected_bytes,
                                            " bytes, actual ", size));
  }
  absl::StatusOr<std::string> data = ReadFile(path, expected_bytes);
  if (!data.ok()) {
    // E.g. the file grew between the size check and the read.
    return absl::Status(data.status().code(),
                        absl::StrCat("bundle ", dir, ": ", data.status().message()));
  }
  if (data->size() != expected_bytes) {
    return absl::DataLossError(absl::StrCat(where, " has the wrong size: expected ", expected_bytes,
                                            " bytes, actual ", data->size()));
  }
  const std::string actual_sha256 = Sha256Hex(*data);
  if (actual_sha256 != expected_sha256) {
    return absl::DataLossError(absl::StrCat(where, " has the wrong sha256: expected ",
                                            expected_sha256, ", actual ", actual_sha256));
  }
  return data;
}

}  // namespace

absl::Status ValidateVersion(absl::string_view version) {
  const bool digits = !version.empty() && std::all_of(version.begin(), version.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  if (!digits || version[0] == '0' || version.size() > kMaxVersionDigits) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad bundle version \"", Printable(version),
                     "\": must be a positive integer without leading zeros, at most ",
                     kMaxVersionDigits, " digits"));
  }
  return absl::OkStatus();
}

absl::Status ValidateFileName(absl::string_view name) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad bundle file name \"", Printable(name), "\": ", why));
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 255) return bad("longer than 255 bytes");
  if (name.find('/') != absl::string_view::npos) return bad("must not contain '/'");
  if (name.find('\0') != absl::string_view::npos) return bad("must not contain NUL");
  if (name[0] == '.') return bad("must not start with '.'");
  if (name == kManifestFileName) return bad("reserved for the manifest");
  return absl::OkStatus();
}

absl::Status WriteBundleOptions::Validate() const {
  if (version.empty()) return absl::OkStatus();
  return ValidateVersion(version);
}

absl::StatusOr<std::string> WriteBundle(const std::string& models_dir, json manifest,
                                        const std::map<std::string, std::string>& files,
                                        const WriteBundleOptions& options) {
  // Everything that can be rejected is rejected before anything is written.
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  if (models_dir.empty()) return absl::InvalidArgumentError("models_dir is empty");
  if (manifest.is_null()) manifest = json::object();
  if (!manifest.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle manifest must be a JSON object, got ", manifest.type_name()));
  }
  for (const auto& [name, bytes] : files) {
    MATALIGN_RETURN_IF_ERROR(ValidateFileName(name));
  }

  std::error_code ec;
  fs::create_directories(models_dir, ec);
  std::error_code dir_ec;
  if (!fs::is_directory(models_dir, dir_ec)) {
    if (ec) return FsError(ec, "cannot create models directory", models_dir);
    return absl::InvalidArgumentError(
        absl::StrCat("models directory ", models_dir, " exists but is not a directory"));
  }

  const bool auto_version = options.version.empty();
  std::uint64_t version_number = 0;  // Only used when auto_version.
  std::string version = options.version;
  if (auto_version) {
    MATALIGN_ASSIGN_OR_RETURN(version_number, NextVersion(models_dir));
    version = absl::StrCat(version_number);
    MATALIGN_RETURN_IF_ERROR(ValidateVersion(version));
  } else if (fs::exists(fs::symlink_status(JoinPath(models_dir, version), ec))) {
    // Checked again, atomically, by the rename; this only avoids writing in vain.
    return absl::AlreadyExistsError(
        absl::StrCat("bundle version ", version, " already exists in ", models_dir));
  }

  json file_entries = json::object();
  for (const auto& [name, bytes] : files) {
    file_entries[name] = {{"bytes", bytes.size()}, {"sha256", Sha256Hex(bytes)}};
  }
  manifest["format_version"] = kBundleFormatVersion;
  manifest["version"] = version;
  manifest["created"] = UtcNowIso8601();
  manifest["files"] = std::move(file_entries);

  TempDirGuard guard;
  MATALIGN_ASSIGN_OR_RETURN(const std::string tmp_dir, MakeTempDir(models_dir, version));
  guard.Set(tmp_dir);
  for (const auto& [name, bytes] : files) {
    MATALIGN_RETURN_IF_ERROR(WriteAndSync(JoinPath(tmp_dir, name), bytes, /*exclusive=*/true));
  }
  const std::string tmp_manifest = JoinPath(tmp_dir, kManifestFileName);
  MATALIGN_RETURN_IF_ERROR(WriteAndSync(tmp_manifest, ManifestText(manifest), /*exclusive=*/true));
  MATALIGN_RETURN_IF_ERROR(SyncDir(tmp_dir));

  for (int attempt = 0;; ++attempt) {
    const std::string final_dir = JoinPath(models_dir, version);
    const int err = RenameNoReplace(tmp_dir, final_dir);
    if (err == 0) {
      guard.Release();
      MATALIGN_RETURN_IF_ERROR(SyncDir(models_dir));
      return final_dir;
    }
    if (err != EEXIST && err != ENOTEMPTY) {
      return ErrnoError(err, absl::StrCat("cannot rename ", tmp_dir, " to"), final_dir);
    }
    if (!auto_version) {
      return absl::AlreadyExistsError(
          absl::StrCat("bundle version ", version, " already exists in ", models_dir));
    }
    if (attempt + 1 >= kMaxVersionAttempts) {
      return absl::AbortedError(absl::StrCat("gave up writing a bundle to ", models_dir, " after ",
                                             kMaxVersionAttempts,
                                             " versions were taken by concurrent writers"));
    }
    // A concurrent writer took this version: move on to the next free one and restamp the
    // manifest (the temporary directory is private, so overwriting in place is safe).
    MATALIGN_ASSIGN_OR_RETURN(const std::uint64_t next, NextVersion(models_dir));
    version_number = std::max(next, version_number + 1);
    version = absl::StrCat(version_number);
    MATALIGN_RETURN_IF_ERROR(ValidateVersion(version));
    manifest["version"] = version;
    MATALIGN_RETURN_IF_ERROR(
        WriteAndSync(tmp_manifest, ManifestText(manifest), /*exclusive=*/false));
  }
}

absl::StatusOr<absl::string_view> Bundle::File(absl::string_view name) const {
  const auto it = files.find(std::string(name));
  if (it == files.end()) {
    std::vector<std::string> names;
    for (const auto& [n, bytes] : files) names.push_back(n);
    return absl::NotFoundError(
        absl::StrCat("bundle ", dir, " has no file \"", Printable(name),
                     "\" (it has: ", names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  }
  return absl::string_view(it->second);
}

absl::StatusOr<Bundle> ReadBundle(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (!fs::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return FsError(ec, "cannot access bundle", dir);
    }
    return absl::NotFoundError(absl::StrCat("bundle ", dir, ": no such directory"));
  }
  if (!fs::is_directory(st)) {
    return absl::InvalidArgumentError(absl::StrCat("bundle ", dir, ": not a directory"));
  }

  const std::string manifest_path = JoinPath(dir, kManifestFileName);
  absl::StatusOr<std::string> text = ReadFile(manifest_path, kMaxManifestBytes);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(absl::StrCat("bundle ", dir, ": ", kManifestFileName,
                                              " is missing (not a bundle, or not finished)"));
    }
    return absl::Status(text.status().code(),
                        absl::StrCat("bundle ", dir, ": ", text.status().message()));
  }

  Bundle bundle;
  bundle.dir = dir;
  try {
    bundle.manifest = json::parse(*text);
  } catch (const json::exception& e) {
    return absl::DataLossError(
        absl::StrCat("bundle ", dir, ": ", kManifestFileName, " is not valid JSON: ", e.what()));
  }
  MATALIGN_RETURN_IF_ERROR(ValidateManifest(dir, bundle.manifest));
  bundle.version = bundle.manifest["version"].get<std::string>();

  for (const auto& [name, entry] : bundle.manifest["files"].items()) {
    MATALIGN_ASSIGN_OR_RETURN(std::string data,
                              ReadVerifiedFile(dir, name, entry["bytes"].get<std::uint64_t>(),
                                               entry["sha256"].get<std::string>()));
    bundle.files.emplace(name, std::move(data));
  }
  return bundle;
}

absl::StatusOr<std::vector<std::string>> ListVersions(const std::string& models_dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(models_dir, ec);
  if (!fs::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return FsError(ec, "cannot access models directory", models_dir);
    }
    return absl::NotFoundError(absl::StrCat("models directory ", models_dir, " does not exist"));
  }
  if (!fs::is_directory(st)) {
    return absl::InvalidArgumentError(
        absl::StrCat("models directory ", models_dir, " is not a directory"));
  }
  std::vector<std::string> versions;
  fs::directory_iterator it(models_dir, ec);
  if (ec) return FsError(ec, "cannot list models directory", models_dir);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // Temporary directories start with '.', so ValidateVersion already skips them.
    if (!ValidateVersion(name).ok()) continue;
    std::error_code entry_ec;
    if (it->is_directory(entry_ec)) versions.push_back(name);
  }
  if (ec) return FsError(ec, "cannot list models directory", models_dir);
  std::sort(versions.begin(), versions.end(), VersionLess);
  return versions;
}

absl::StatusOr<std::string> LatestBundleDir(const std::string& models_dir) {
  MATALIGN_ASSIGN_OR_RETURN(std::vector<std::string> versions, ListVersions(models_dir));
  if (versions.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no model bundle in ", models_dir,
                     " (expected a subdirectory named by a version: 1, 2, ...)"));
  }
  return JoinPath(models_dir, versions.back());
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    // Only fails when OpenSSL cannot allocate its context; an empty digest never matches a
    // manifest entry, so verification still fails safely.
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * md_len, '0');
  for (unsigned int i = 0; i < md_len; ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return hex;
}

}  // namespace matalign::bundle
