#include "base/error.h"

namespace scion {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_params";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kUnauthenticated: return "unauthorized";
    case ErrorCode::kPermissionDenied: return "forbidden";
    case ErrorCode::kProtocol: return "protocol_error";
    case ErrorCode::kBackendUnavailable: return "backend_unavailable";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

std::string Error::ToString() const {
  if (hint.empty()) return message;
  return message + " (" + hint + ")";
}

}  // namespace scion
