// The local end of `scion connect`: a loopback MySQL listener that accepts local clients with any
// user name and no password, logs each one in to the gateway over TLS with a branch password
// (verifying the gateway's certificate), then relays bytes both ways.
//
// Thread safety: Start/Stop from one thread; the proxy runs on its own I/O thread.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"

namespace scion::gateway {

struct LocalProxyOptions {
  std::string host = "127.0.0.1";  // must be a loopback address
  int port = 3306;                 // when busy, a free port is picked (see port_was_busy())
  std::string gateway_address;     // "host:port"
  std::string ca_pem;              // the CA that signed the gateway's certificate; empty: system CAs
  std::string username;
  std::string password;
};

class LocalProxy {
 public:
  static Result<std::unique_ptr<LocalProxy>> Start(LocalProxyOptions options);
  ~LocalProxy();
  LocalProxy(const LocalProxy&) = delete;
  LocalProxy& operator=(const LocalProxy&) = delete;

  int port() const;
  bool port_was_busy() const;
  // Connections relayed so far, and the last error a connection met (for the CLI's messages).
  int connections() const;
  std::string last_error() const;
  void Stop();

  class Impl;

 private:
  explicit LocalProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace scion::gateway
