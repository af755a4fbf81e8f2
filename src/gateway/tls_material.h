// The gateway's TLS material: a private CA and a server certificate generated in the data folder
// on first start, so clients can verify the gateway's identity with the exported CA file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"

namespace scion::gateway {

struct TlsFiles {
  std::filesystem::path ca_cert;      // hand this to clients (--ssl-ca, sslrootcert, ...)
  std::filesystem::path ca_key;       // 0600
  std::filesystem::path server_cert;  // 0644
  std::filesystem::path server_key;   // 0600
};

// Creates, once, a CA (EC P-256, 10 years) and a server certificate signed by it for
// `hostnames` (DNS names and IP addresses; "localhost" and "127.0.0.1" are always included) in
// `dir`. Existing material is kept; the server certificate is re-issued by the same CA when it
// lacks a requested name or expires within 30 days.
Result<TlsFiles> EnsureTlsMaterial(const std::filesystem::path& dir, std::vector<std::string> hostnames);

}  // namespace scion::gateway
