#include "mmclient/exit_codes.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace matalign::mmclient {

namespace {
constexpr absl::string_view kUsagePayloadUrl = "type.matalign.dev/mmclient.UsageError";
}  // namespace

const char kExitCodesHelp[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  other error\n"
    "  2  usage error (bad flags, unreadable or invalid input file)\n"
    "  3  the server rejected the input (INVALID_ARGUMENT, FAILED_PRECONDITION, "
    "OUT_OF_RANGE)\n"
    "  4  not found (NOT_FOUND)\n"
    "  5  not allowed (UNAUTHENTICATED, PERMISSION_DENIED)\n"
    "  6  server unreachable or busy: retry (UNAVAILABLE, DEADLINE_EXCEEDED, "
    "RESOURCE_EXHAUSTED)\n"
    "  7  ingest finished but some records were rejected\n"
    "Environment: MATALIGN_SERVER (default --server), MATALIGN_TOKEN (default --token).";

absl::Status AsUsageError(absl::Status status) {
  if (!status.ok()) status.SetPayload(kUsagePayloadUrl, absl::Cord("1"));
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kUsagePayloadUrl).has_value();
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (IsUsageError(status)) return kExitUsage;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return kExitRejected;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return kExitUnavailable;
    default:
      return kExitError;
  }
}

std::string FormatError(const absl::Status& status, absl::string_view server) {
  std::string line =
      absl::StrCat("mmclient: ", absl::StatusCodeToString(status.code()), ": ", status.message());
  if (status.code() == absl::StatusCode::kUnavailable && !IsUsageError(status) && !server.empty()) {
    absl::StrAppend(&line, " (server ", server, ")");
  }
  return line;
}

}  // namespace matalign::mmclient
