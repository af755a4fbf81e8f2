// Validation of user-chosen names (organizations, databases, branches, passwords).
#pragma once

#include <string_view>

#include "base/error.h"

namespace scion {

inline constexpr std::size_t kMaxNameLength = 32;

// Names are 1..32 characters of lowercase letters, digits and dashes, starting with a letter or
// digit and not ending with a dash. `what` names the kind of thing in the error ("branch").
// Database names also become MariaDB schema names; dashes are allowed there when quoted.
Status ValidateName(std::string_view what, std::string_view name);

}  // namespace scion
