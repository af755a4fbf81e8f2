#include "mysql/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <charconv>

#include <fmt/format.h>

#include "base/crypto.h"
#include "mysql/protocol.h"

namespace scion::mysql {
namespace {

std::string Digest(const EVP_MD* md, std::string_view a, std::string_view b = {}) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, md, nullptr);
  EVP_DigestUpdate(ctx, a.data(), a.size());
  if (!b.empty()) EVP_DigestUpdate(ctx, b.data(), b.size());
  EVP_DigestFinal_ex(ctx, out, &len);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Xor(std::string_view a, std::string_view b) {
  std::string out(a.size(), '\0');
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) out[i] = static_cast<char>(a[i] ^ b[i]);
  return out;
}

bool Equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string FromHex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    unsigned v = 0;
    std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    out += static_cast<char>(v);
  }
  return out;
}

std::string Pbkdf2(std::string_view password, std::string_view salt, int iterations) {
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), sizeof(out), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

}  // namespace

std::string NativeVerifier(std::string_view password) { return Digest(EVP_sha1(), Digest(EVP_sha1(), password)); }

bool CheckNativeScramble(std::string_view response, std::string_view nonce, std::string_view verifier) {
  if (response.size() != 20 || verifier.size() != 20) return false;
  std::string stage1 = Xor(response, Digest(EVP_sha1(), nonce, verifier));
  return Equal(Digest(EVP_sha1(), stage1), verifier);
}

std::string CachingSha2Scramble(std::string_view password, std::string_view nonce) {
  if (password.empty()) return {};
  std::string stage1 = Digest(EVP_sha256(), password);
  std::string stage2 = Digest(EVP_sha256(), stage1);
  return Xor(stage1, Digest(EVP_sha256(), stage2, nonce));
}

std::string CachingSha2CacheEntry(std::string_view password) {
  return Digest(EVP_sha256(), Digest(EVP_sha256(), password));
}

bool CheckCachingSha2Scramble(std::string_view response, std::string_view nonce, std::string_view cache_entry) {
  if (response.size() != 32 || cache_entry.size() != 32) return false;
  std::string stage1 = Xor(response, Digest(EVP_sha256(), cache_entry, nonce));
  return Equal(Digest(EVP_sha256(), stage1), cache_entry);
}

std::string SlowHash(std::string_view password, int iterations) {
  std::string salt = FromHex(RandomHex(16));
  return fmt::format("pbkdf2-sha256${}${}${}", iterations, HexBytes(salt), HexBytes(Pbkdf2(password, salt, iterations)));
}

bool CheckSlowHash(std::string_view password, std::string_view encoded) {
  // pbkdf2-sha256$ITER$SALT$HASH
  std::string_view prefix = "pbkdf2-sha256$";
  if (!encoded.starts_with(prefix)) return false;
  encoded.remove_prefix(prefix.size());
  auto d1 = encoded.find('$');
  auto d2 = encoded.find('$', d1 == std::string_view::npos ? d1 : d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos) return false;
  int iterations = 0;
  auto [p, ec] = std::from_chars(encoded.data(), encoded.data() + d1, iterations);
  if (ec != std::errc() || iterations < 1 || iterations > 10000000) return false;
  std::string salt = FromHex(encoded.substr(d1 + 1, d2 - d1 - 1));
  std::string want = FromHex(encoded.substr(d2 + 1));
  return Equal(Pbkdf2(password, salt, iterations), want);
}

}  // namespace scion::mysql
