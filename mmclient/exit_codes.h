// mmclient's exit codes and error messages: what a script can rely on (docs/mmclient.md).
#ifndef MATALIGN_MMCLIENT_EXIT_CODES_H_
#define MATALIGN_MMCLIENT_EXIT_CODES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace matalign::mmclient {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,           // anything not listed below
  kExitUsage = 2,           // bad flags, an unreadable or invalid input file
  kExitRejected = 3,        // the server rejected the input: INVALID_ARGUMENT,
                            // FAILED_PRECONDITION, OUT_OF_RANGE
  kExitNotFound = 4,        // NOT_FOUND
  kExitDenied = 5,          // UNAUTHENTICATED, PERMISSION_DENIED
  kExitUnavailable = 6,     // UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED: retry later
  kExitIngestRejected = 7,  // ingest finished, but the server rejected some records
};

// The --help footer listing the exit codes.
extern const char kExitCodesHelp[];

// Marks `status` as a problem of the command line or of a local input file (exit 2),
// whatever its code: a missing structure file is NotFound, but it is not the server's
// "not found". Returns `status` unchanged if it is OK.
absl::Status AsUsageError(absl::Status status);

// True if AsUsageError marked `status`.
bool IsUsageError(const absl::Status& status);

// The exit code for `status`: 0 if OK, 2 if IsUsageError, otherwise by code as in
// ExitCode (the server's codes; a transport failure is UNAVAILABLE).
int ExitCodeFor(const absl::Status& status);

// The stderr line for a failed command (no newline): "mmclient: <CODE_NAME>: <message>",
// plus " (server <server>)" for UNAVAILABLE from the server, so the address is in sight
// when it is wrong. Requires !status.ok().
std::string FormatError(const absl::Status& status, absl::string_view server);

}  // namespace matalign::mmclient

#endif  // MATALIGN_MMCLIENT_EXIT_CODES_H_
