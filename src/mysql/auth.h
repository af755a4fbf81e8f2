// Authentication math of the MySQL protocol, for both ends: what clients send for
// mysql_native_password and caching_sha2_password, and how a server checks it against stored
// verifiers without ever storing the password.
#pragma once

#include <string>
#include <string_view>

namespace scion::mysql {

// mysql_native_password. The verifier is SHA1(SHA1(password)) (20 bytes).
std::string NativeVerifier(std::string_view password);
bool CheckNativeScramble(std::string_view response, std::string_view nonce, std::string_view verifier);

// caching_sha2_password. Client: XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) + nonce)).
// A server that knows SHA256(SHA256(pw)) (its fast-auth cache, filled after a full
// authentication) checks a scramble with CheckCachingSha2Scramble.
std::string CachingSha2Scramble(std::string_view password, std::string_view nonce);
std::string CachingSha2CacheEntry(std::string_view password);  // SHA256(SHA256(pw))
bool CheckCachingSha2Scramble(std::string_view response, std::string_view nonce, std::string_view cache_entry);

// A salted slow hash for checking a cleartext password (caching_sha2 full authentication over
// TLS): "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX".
std::string SlowHash(std::string_view password, int iterations = 100000);
bool CheckSlowHash(std::string_view password, std::string_view encoded);

}  // namespace scion::mysql
