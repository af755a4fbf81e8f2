// Binding a TCP listener from a "host:port" flag value, for the daemon's listeners (the HTTP API
// and the MySQL gateway). Header-only: only the translation units that already hold Asio's
// templates include it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/error.h"

namespace scion {

// Resolves `address` ("host:port"; empty host = all interfaces, [v6] allowed, port 0 = a free
// one), opens, binds and listens with `acceptor`. Returns the bound "host:port". Errors name
// `flag` (e.g. "--http-addr") and what to do; `example` shows a valid value.
inline Result<std::string> ListenTcp(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address,
                                     std::string_view flag, std::string_view example) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("invalid {} \"{}\"", flag, address),
                     fmt::format("use host:port, e.g. {}", example));
  }
  std::string host = address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  tcp::resolver resolver(acceptor.get_executor());
  auto results = resolver.resolve(host, address.substr(colon + 1), ec);
  if (ec || results.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("cannot resolve {} \"{}\": {}", flag, address, ec ? ec.message() : "no address"));
  }
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, fmt::format("cannot listen on {}: {}", address, ec.message()),
                     fmt::format("pick another {}, or stop what is using that port", flag));
  }
  auto local = acceptor.local_endpoint();
  std::string h = local.address().to_string();
  if (local.address().is_v6()) h = "[" + h + "]";
  return fmt::format("{}:{}", h, local.port());
}

}  // namespace scion
