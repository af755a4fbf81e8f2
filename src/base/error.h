// Scion's error type: errors are values, never exceptions on the data path.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace scion {

// Domain codes. Each maps to one HTTP status and one API `code` string (see api/).
enum class ErrorCode {
  kInvalidArgument,     // bad input from a user or client
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // a thing with that name exists already
  kConflict,            // the request contradicts the current state
  kFailedPrecondition,  // the state does not allow the request yet (e.g. branch not ready)
  kUnauthenticated,     // missing or wrong credentials
  kPermissionDenied,    // credentials are valid but not allowed to do this
  kProtocol,            // a peer spoke the wire protocol wrongly
  kBackendUnavailable,  // a MariaDB instance cannot be reached
  kUnavailable,         // a dependency is down; retrying may help
  kInternal,            // a bug or an environment failure (disk full, ...)
};

// Stable lowercase name of a code, e.g. "not_found".
std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // one sentence a user can act on
  std::string hint;     // optional: what to do next, e.g. "run: scion branch list mydb"

  // "message (hint)" or just the message.
  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message, std::string hint = {}) {
  return std::unexpected<Error>(Error{code, std::move(message), std::move(hint)});
}

inline Status Ok() { return {}; }

}  // namespace scion

#define SCION_CONCAT_INNER_(a, b) a##b
#define SCION_CONCAT_(a, b) SCION_CONCAT_INNER_(a, b)

// SCION_TRY(expr): returns the error of a failed Status/Result from the enclosing function.
#define SCION_TRY(expr)                                        \
  do {                                                         \
    auto&& scion_try_result_ = (expr);                         \
    if (!scion_try_result_) {                                  \
      return std::unexpected(std::move(scion_try_result_).error()); \
    }                                                          \
  } while (0)

// SCION_CO_TRY(expr): SCION_TRY for coroutines (co_returns the error).
#define SCION_CO_TRY(expr)                                          \
  do {                                                              \
    auto&& scion_try_result_ = (expr);                              \
    if (!scion_try_result_) {                                       \
      co_return std::unexpected(std::move(scion_try_result_).error()); \
    }                                                               \
  } while (0)

// SCION_ASSIGN_OR_RETURN(decl, expr): `decl = *expr` or return expr's error.
#define SCION_ASSIGN_OR_RETURN(decl, expr) \
  SCION_ASSIGN_OR_RETURN_IMPL_(SCION_CONCAT_(scion_result_, __LINE__), decl, expr)
#define SCION_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr)     \
  auto tmp = (expr);                                      \
  if (!tmp) return std::unexpected(std::move(tmp).error()); \
  decl = std::move(*tmp)
