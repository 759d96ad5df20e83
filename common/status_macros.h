// Status propagation helpers. Packaged abseil (20220623) has no RETURN_IF_ERROR /
// ASSIGN_OR_RETURN, so MatAlign defines them here, once.
#ifndef MATALIGN_COMMON_STATUS_MACROS_H_
#define MATALIGN_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define MATALIGN_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::absl::Status matalign_status_ = (expr);            \
    if (!matalign_status_.ok()) return matalign_status_; \
  } while (0)

#define MATALIGN_STATUS_CONCAT_INNER_(a, b) a##b
#define MATALIGN_STATUS_CONCAT_(a, b) MATALIGN_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, otherwise
// move-assigns the value to `lhs` (which may be a declaration: `auto x`).
#define MATALIGN_ASSIGN_OR_RETURN(lhs, rexpr) \
  MATALIGN_ASSIGN_OR_RETURN_IMPL_(MATALIGN_STATUS_CONCAT_(matalign_statusor_, __LINE__), lhs, rexpr)

#define MATALIGN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (!statusor.ok()) return statusor.status();               \
  lhs = std::move(statusor).value()

#endif  // MATALIGN_COMMON_STATUS_MACROS_H_
