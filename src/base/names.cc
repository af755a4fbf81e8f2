#include "base/names.h"

#include <fmt/format.h>

namespace scion {

Status ValidateName(std::string_view what, std::string_view name) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("invalid {} name \"{}\": {}", what, name, why),
                     "use 1-32 lowercase letters, digits and dashes, e.g. add-user-prefs");
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > kMaxNameLength) return bad(fmt::format("it is longer than {} characters", kMaxNameLength));
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return bad(fmt::format("'{}' is not allowed", c));
  }
  if (name.front() == '-' || name.back() == '-') return bad("it must not start or end with a dash");
  return Ok();
}

}  // namespace scion
