#include "gateway/tls_material.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <cstdio>

#include "base/crypto.h"
#include "base/files.h"

namespace scion::gateway {
namespace {
namespace fs = std::filesystem;

X509* Load(const fs::path& p) {
  FILE* f = std::fopen(p.c_str(), "r");
  X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return c;
}

bool Verifies(const TlsFiles& files) {
  X509* ca = Load(files.ca_cert);
  X509* cert = Load(files.server_cert);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca);
  X509_free(cert);
  return ok;
}

bool Names(const TlsFiles& files, const std::string& host, const std::string& ip) {
  X509* cert = Load(files.server_cert);
  bool ok = X509_check_host(cert, host.c_str(), host.size(), 0, nullptr) == 1 &&
            (ip.empty() || X509_check_ip_asc(cert, ip.c_str(), 0) == 1);
  X509_free(cert);
  return ok;
}

class TlsMaterialTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fs::temp_directory_path() / ("scion-tls-" + RandomId(8)); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(TlsMaterialTest, GeneratesAChainClientsCanVerify) {
  auto files = EnsureTlsMaterial(dir_ / "tls", {"db.example.test"});
  ASSERT_TRUE(files) << files.error().message;
  EXPECT_TRUE(Verifies(*files));
  EXPECT_TRUE(Names(*files, "localhost", "127.0.0.1"));
  EXPECT_TRUE(Names(*files, "db.example.test", ""));
  EXPECT_FALSE(Names(*files, "other.example.test", ""));
  EXPECT_EQ(fs::status(files->server_key).permissions() & fs::perms::group_read, fs::perms::none);
  EXPECT_EQ(fs::status(files->ca_key).permissions() & fs::perms::others_read, fs::perms::none);
}

TEST_F(TlsMaterialTest, KeepsMaterialAndReissuesForNewNames) {
  auto first = EnsureTlsMaterial(dir_, {});
  ASSERT_TRUE(first);
  std::string ca = *ReadFile(first->ca_cert), server = *ReadFile(first->server_cert);
  auto again = EnsureTlsMaterial(dir_, {});
  ASSERT_TRUE(again);
  EXPECT_EQ(*ReadFile(again->server_cert), server);  // unchanged
  auto wider = EnsureTlsMaterial(dir_, {"10.1.2.3", "gw.internal"});
  ASSERT_TRUE(wider);
  EXPECT_EQ(*ReadFile(wider->ca_cert), ca);          // same CA: clients keep trusting it
  EXPECT_NE(*ReadFile(wider->server_cert), server);  // re-issued
  EXPECT_TRUE(Verifies(*wider));
  EXPECT_TRUE(Names(*wider, "gw.internal", "10.1.2.3"));
}

}  // namespace
}  // namespace scion::gateway
