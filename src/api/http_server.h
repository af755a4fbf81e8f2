// The HTTP/1.1 transport of the API (Boost.Beast over Asio, C++20 coroutines).
// All Beast/Asio templates live in http_server.cc and http_client.cc only.
#pragma once

#include <memory>
#include <string>

#include "api/router.h"
#include "base/error.h"

namespace scion::api {

class HttpServer {
 public:
  // Binds `address` ("host:port"; port 0 picks a free port) and serves `router` with `threads`
  // I/O threads. Handlers run on a separate small pool so a slow call never stalls I/O.
  static Result<std::unique_ptr<HttpServer>> Start(Router& router, const std::string& address, int threads = 2);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting, closes connections and joins the threads. Idempotent.
  void Stop();

  // The bound address, e.g. "127.0.0.1:8484".
  const std::string& address() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace scion::api
