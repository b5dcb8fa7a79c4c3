// The http layer of `edge trace` (and the proxy layer's CONNECT): one request, the response
// head read with a deadline and parsed by Boost.Beast, the headers that tell who answered
// (Server, Via, X-Cache, Proxy-Status, X-Squid-Error) kept as evidence.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "core/base/duration.h"
#include "core/trace/layer.h"
#include "core/trace/stream.h"

namespace edge::trace {

struct ResponseHead {
  unsigned status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  // lower-case names of the headers worth reporting
  double first_byte_ms = 0;
  std::optional<uint64_t> content_length;
  size_t body_bytes_read = 0;  // body bytes that arrived with the head
};

struct BodyRead {
  uint64_t bytes = 0;   // body bytes in all, including those read with the head
  bool complete = false;  // Content-Length reached, or the peer closed (Connection: close)
  bool stalled = false;   // nothing arrived for a whole idle period
};

// Reads (and drops) the rest of the body, up to `cap` bytes, each read bounded by `idle`.
BodyRead read_body(Stream& s, const ResponseHead& head, Millis idle, uint64_t cap);

enum class HeadError { none, timeout, closed, malformed, io };

// Sends `request` and reads the response head. `error_text` explains a failure.
HeadError exchange_head(Stream& s, const std::string& request, Millis timeout, ResponseHead& out, std::string& error_text);

// The layer: GET path (absolute-form when `absolute_url` is set, for a plain-HTTP proxy).
// `extra_headers`: complete header lines ("Name: value\r\n"), e.g. Proxy-Authorization.
LayerResult probe_http(Stream& s, const std::string& host_header, const std::string& target_path, Millis timeout,
                       ResponseHead& head, const std::string& extra_headers = "");

// The headers of `head` that `edge trace` reports, as JSON evidence.
boost::json::object head_evidence(const ResponseHead& head);

}  // namespace edge::trace
