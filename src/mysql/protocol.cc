#include "mysql/protocol.h"

#include <openssl/evp.h>

#include <fmt/format.h>

#include "mysql/wire.h"

namespace scion::mysql {

bool ParseErrPacket(std::string_view packet, ServerError* out) {
  if (packet.empty() || static_cast<std::uint8_t>(packet[0]) != 0xff) return false;
  ByteReader r(packet.substr(1));
  out->code = r.U16();
  if (r.peek() == '#') {
    r.Skip(1);
    out->sql_state = std::string(r.Bytes(5));
  }
  out->message = std::string(r.Rest());
  return true;
}

Error ToError(const ServerError& e) {
  return Error{ErrorCode::kInvalidArgument,
               fmt::format("MariaDB error {} ({}): {}", e.code, e.sql_state.empty() ? "HY000" : e.sql_state, e.message),
               ""};
}

std::string NativePasswordScramble(std::string_view password, std::string_view nonce) {
  if (password.empty()) return {};
  constexpr unsigned kSha1 = 20;
  unsigned char stage1[kSha1], stage2[kSha1], mix[kSha1];
  unsigned int len = 0;
  EVP_Digest(password.data(), password.size(), stage1, &len, EVP_sha1(), nullptr);
  EVP_Digest(stage1, kSha1, stage2, &len, EVP_sha1(), nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, nonce.data(), nonce.size());
  EVP_DigestUpdate(ctx, stage2, kSha1);
  EVP_DigestFinal_ex(ctx, mix, &len);
  EVP_MD_CTX_free(ctx);
  std::string out(kSha1, '\0');
  for (unsigned i = 0; i < kSha1; ++i) out[i] = static_cast<char>(stage1[i] ^ mix[i]);
  return out;
}

std::string HexBytes(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  out += '`';
  return out;
}

std::string QuoteString(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    switch (c) {
      case '\'': out += "''"; break;  // doubled: safe under NO_BACKSLASH_ESCAPES too
      case '\\': out += "\\\\"; break;
      case '\0': out += "\\0"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  out += '\'';
  return out;
}

}  // namespace scion::mysql
