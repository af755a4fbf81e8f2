// The REST API v1 as a pure function of a request, independent of the HTTP transport.
//
// Paths follow PlanetScale's (`/v1/organizations/{org}/databases/{db}/branches/{branch}...`),
// bodies and answers are JSON, errors are `{"code": "...", "message": "...", "hint": "..."}` with
// the matching HTTP status.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "control/control_plane.h"

namespace scion::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path with optional query string
  std::string authorization;
  std::string body;
};

// Where a streaming answer writes its chunks. Implemented by the HTTP transport.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Sends one chunk; false once the client is gone or the server is stopping.
  virtual bool Write(std::string_view chunk) = 0;
  // False once the client is gone or the server is stopping.
  virtual bool Alive() = 0;
};

struct Response {
  int status = 200;
  std::string body;  // JSON
  // When set, the answer is streamed (chunked, newline-delimited JSON) by calling this on a
  // thread of its own; `body` is unused.
  std::function<void(StreamSink&)> stream;
};

// HTTP status for an error code (not_found 404, already_exists/conflict 409, invalid_params 422...).
int HttpStatus(ErrorCode code);

class Router {
 public:
  explicit Router(control::ControlPlane& control, std::string version)
      : control_(control), version_(std::move(version)) {}

  // Thread-safe; may block for as long as the control-plane call takes (milliseconds to seconds).
  Response Handle(const Request& request);

 private:
  control::ControlPlane& control_;
  std::string version_;
};

}  // namespace scion::api
