#include "gateway/tls_material.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>

#include <fmt/format.h>

#include "base/files.h"

namespace scion::gateway {
namespace fs = std::filesystem;
namespace {

using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

std::unexpected<Error> TlsError(std::string what) {
  return MakeError(ErrorCode::kInternal, "TLS material: " + what);
}

bool IsIp(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

Pkey NewKey() { return Pkey(EVP_EC_gen("P-256"), EVP_PKEY_free); }

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return TlsError("cannot build extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return Ok();
}

Result<Cert> Issue(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key, long days,
                   bool ca, const std::vector<std::string>& names) {
  Cert cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 86400L);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Scion"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  SCION_TRY(AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash"));
  if (ca) {
    SCION_TRY(AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
    SCION_TRY(AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    SCION_TRY(AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always"));
    SCION_TRY(AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
    SCION_TRY(AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
    SCION_TRY(AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth"));
    std::string san;
    for (const auto& n : names) san += (san.empty() ? "" : ",") + std::string(IsIp(n) ? "IP:" : "DNS:") + n;
    SCION_TRY(AddExtension(cert.get(), signer, NID_subject_alt_name, san));
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return TlsError("cannot sign " + common_name);
  return cert;
}

Status WritePem(const fs::path& path, unsigned mode, const std::function<int(FILE*)>& write) {
  std::string tmp = path.string() + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return TlsError("cannot write " + tmp);
  ::chmod(tmp.c_str(), mode);
  int ok = write(f);
  std::fclose(f);
  if (!ok) return TlsError("cannot encode " + path.string());
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return TlsError("cannot move " + tmp + " into place: " + ec.message());
  return Ok();
}

Result<Pkey> ReadKey(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return TlsError("cannot read " + path.string());
  Pkey key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::fclose(f);
  if (!key) return TlsError("cannot parse " + path.string());
  return key;
}

Result<Cert> ReadCert(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return TlsError("cannot read " + path.string());
  Cert cert(PEM_read_X509(f, nullptr, nullptr, nullptr), X509_free);
  std::fclose(f);
  if (!cert) return TlsError("cannot parse " + path.string());
  return cert;
}

bool CoversAll(X509* cert, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    int ok = IsIp(n) ? X509_check_ip_asc(cert, n.c_str(), 0) : X509_check_host(cert, n.c_str(), n.size(), 0, nullptr);
    if (ok != 1) return false;
  }
  // Re-issue when it expires within 30 days.
  time_t soon = time(nullptr) + 30L * 86400L;
  return X509_cmp_time(X509_get0_notAfter(cert), &soon) > 0;
}

}  // namespace

Result<TlsFiles> EnsureTlsMaterial(const fs::path& dir, std::vector<std::string> hostnames) {
  for (const char* always : {"localhost", "127.0.0.1"}) {
    if (std::find(hostnames.begin(), hostnames.end(), always) == hostnames.end()) hostnames.insert(hostnames.begin(), always);
  }
  SCION_TRY(MakeDirs(dir, 0700));
  TlsFiles files{dir / "ca.pem", dir / "ca-key.pem", dir / "server.pem", dir / "server-key.pem"};
  if (!fs::exists(files.ca_cert) || !fs::exists(files.ca_key)) {
    Pkey ca_key = NewKey();
    if (!ca_key) return TlsError("cannot generate the CA key");
    SCION_ASSIGN_OR_RETURN(Cert ca, Issue(ca_key.get(), "Scion local CA", nullptr, ca_key.get(), 3650, true, {}));
    SCION_TRY(WritePem(files.ca_key, 0600, [&](FILE* f) {
      return PEM_write_PrivateKey(f, ca_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    }));
    SCION_TRY(WritePem(files.ca_cert, 0644, [&](FILE* f) { return PEM_write_X509(f, ca.get()); }));
    std::error_code ec;
    fs::remove(files.server_cert, ec);  // a new CA means a new server certificate
  }
  if (fs::exists(files.server_cert) && fs::exists(files.server_key)) {
    SCION_ASSIGN_OR_RETURN(Cert current, ReadCert(files.server_cert));
    if (CoversAll(current.get(), hostnames)) return files;
  }
  SCION_ASSIGN_OR_RETURN(Pkey ca_key, ReadKey(files.ca_key));
  SCION_ASSIGN_OR_RETURN(Cert ca, ReadCert(files.ca_cert));
  Pkey key = NewKey();
  if (!key) return TlsError("cannot generate the server key");
  SCION_ASSIGN_OR_RETURN(Cert cert, Issue(key.get(), hostnames.front(), ca.get(), ca_key.get(), 825, false, hostnames));
  SCION_TRY(WritePem(files.server_key, 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }));
  SCION_TRY(WritePem(files.server_cert, 0644, [&](FILE* f) { return PEM_write_X509(f, cert.get()); }));
  return files;
}

}  // namespace scion::gateway
