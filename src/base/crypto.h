// Randomness and hashing for tokens, passwords and ids (OpenSSL underneath).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace scion {

// `bytes` cryptographically secure random bytes, hex-encoded (2*bytes characters).
std::string RandomHex(std::size_t bytes);

// A random id of `length` lowercase letters and digits, e.g. for public resource ids.
std::string RandomId(std::size_t length = 12);

// A random string of `length` characters from [0-9A-Za-z], e.g. for generated passwords.
std::string RandomBase62(std::size_t length);

// Lowercase hex of arbitrary bytes, and back. HexDecode gives nullopt for an odd length or a
// character that is not a hex digit.
std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);

// SHA-256 of `data`, lowercase hex.
std::string Sha256Hex(std::string_view data);

// Constant-time comparison of two strings.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace scion
