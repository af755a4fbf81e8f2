#include "api/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace scion::api {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

ErrorCode ErrorCodeFromName(std::string_view name) {
  for (auto code : {ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kAlreadyExists, ErrorCode::kConflict,
                    ErrorCode::kFailedPrecondition, ErrorCode::kUnauthenticated, ErrorCode::kPermissionDenied,
                    ErrorCode::kProtocol, ErrorCode::kBackendUnavailable, ErrorCode::kUnavailable}) {
    if (ErrorCodeName(code) == name) return code;
  }
  return ErrorCode::kInternal;
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

namespace {

struct Url {
  std::string host;
  std::string port;
};

Result<Url> ParseServer(const std::string& server) {
  std::string_view s = server;
  if (s.starts_with("https://")) {
    return MakeError(ErrorCode::kInvalidArgument, "https server URLs are not supported yet",
                     "use http://HOST:PORT (the API listens on loopback by default)");
  }
  if (s.starts_with("http://")) s.remove_prefix(7);
  while (s.ends_with("/")) s.remove_suffix(1);
  auto colon = s.rfind(':');
  Url u;
  if (colon == std::string_view::npos || (s.find(']') != std::string_view::npos && colon < s.find(']'))) {
    u.host = std::string(s);
    u.port = "80";
  } else {
    u.host = std::string(s.substr(0, colon));
    u.port = std::string(s.substr(colon + 1));
  }
  if (u.host.size() > 1 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("invalid server URL \"{}\"", server),
                     "use http://HOST:PORT, e.g. http://127.0.0.1:8484");
  }
  return u;
}

// A connected socket to the server, or an error saying it cannot be reached.
struct Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  Url url;
};

std::unexpected<Error> Unreachable(const std::string& server, const std::string& why) {
  return MakeError(ErrorCode::kUnavailable, fmt::format("cannot reach the scion server at {}: {}", server, why),
                   "is `scion server` running? Set the address with --server, SCION_SERVER or scion auth login");
}

// `timeout_seconds` 0 = none (a stream that follows changes may stay quiet for long).
Status Open(Connection& c, const std::string& server, int timeout_seconds) {
  SCION_ASSIGN_OR_RETURN(c.url, ParseServer(server));
  tcp::resolver resolver(c.ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(c.url.host, c.url.port, ec);
  if (ec) return Unreachable(server, ec.message());
  c.stream.connect(endpoints, ec);
  if (ec) return Unreachable(server, ec.message());
  if (timeout_seconds > 0) {
    // Beast's timers only apply to asynchronous calls; blocking calls need socket timeouts.
    timeval tv{timeout_seconds, 0};
    ::setsockopt(c.stream.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(c.stream.socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  return Ok();
}

}  // namespace

Status Client::Stream(const std::string& path, const std::function<bool(std::string_view)>& on_line) const {
  Connection c;
  SCION_TRY(Open(c, options_.server, 0));
  auto& stream = c.stream;
  const Url& url = c.url;
  beast::error_code ec;
  auto unreachable = [&](const std::string& why) { return Unreachable(options_.server, why); };
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, url.host);
  req.set(http::field::user_agent, "scion-cli");
  if (!options_.token.empty()) req.set(http::field::authorization, options_.token);
  http::write(stream, req, ec);
  if (ec) return unreachable(ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  http::read_header(stream, buffer, parser, ec);
  if (ec) return unreachable(ec.message());
  int status = static_cast<int>(parser.get().result_int());
  std::string pending;
  char chunk[65536];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    http::read_some(stream, buffer, parser, ec);  // returns as soon as some body arrived
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof) break;
      return unreachable(ec.message());
    }
    pending.append(chunk, sizeof(chunk) - parser.get().body().size);
    if (status != 200) continue;
    std::size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      if (!on_line(std::string_view(pending).substr(start, nl - start))) return Ok();
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (status != 200) {
    json parsed = json::parse(pending, nullptr, false);
    if (parsed.is_object() && parsed.contains("message")) {
      return MakeError(ErrorCodeFromName(parsed.value("code", "internal")), parsed.value("message", ""),
                       parsed.value("hint", ""));
    }
    return MakeError(ErrorCode::kInternal, fmt::format("the server answered HTTP {}", status));
  }
  if (!pending.empty()) on_line(pending);
  return Ok();
}

Result<json> Client::Call(const std::string& method, const std::string& path, const json& body) const {
  Connection c;
  SCION_TRY(Open(c, options_.server, options_.timeout_seconds));
  auto& stream = c.stream;
  const Url& url = c.url;
  beast::error_code ec;
  auto unreachable = [&](const std::string& why) { return Unreachable(options_.server, why); };

  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, url.host);
  req.set(http::field::user_agent, "scion-cli");
  req.set(http::field::accept, "application/json");
  if (!options_.token.empty()) req.set(http::field::authorization, options_.token);
  if (!body.is_null()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body.dump();
  }
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return unreachable(ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(stream, buffer, parser, ec);
  if (ec) return unreachable(ec.message());
  auto res = parser.release();
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);

  int status = static_cast<int>(res.result_int());
  json parsed = res.body().empty() ? json(nullptr) : json::parse(res.body(), nullptr, false);
  if (status >= 200 && status < 300) {
    if (parsed.is_discarded()) return MakeError(ErrorCode::kProtocol, "the server sent an answer that is not JSON");
    return parsed;
  }
  if (parsed.is_object() && parsed.contains("message")) {
    return MakeError(ErrorCodeFromName(parsed.value("code", "internal")), parsed.value("message", ""),
                     parsed.value("hint", ""));
  }
  return MakeError(ErrorCode::kInternal, fmt::format("the server answered HTTP {}", status));
}

}  // namespace scion::api
