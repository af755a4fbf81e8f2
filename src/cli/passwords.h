// Pieces of `scion password`: the --ttl grammar and the text shown once after creation.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion::cli {

// "3600", "45s", "30m", "24h", "7d" to seconds. kInvalidArgument for anything else (no sign, no
// fraction, no combination like "1h30m").
Result<std::int64_t> ParseTtl(std::string_view text);

// The human answer to `password create`: the password's fields, ready-to-paste connection
// strings for the mysql client, mysql2 and Prisma, and a warning that the plain text will not be
// shown again. `created` is the API's password object including `plain_text`.
std::string CreatedPasswordText(const nlohmann::json& created);

}  // namespace scion::cli
