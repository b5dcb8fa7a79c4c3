// The http layer of `edge trace` (and the proxy layer's CONNECT): one request, the response
// head read with a deadline and parsed by Boost.Beast, the headers that tell who answered
// (Server, Via, X-Cache, Proxy-Status, X-Squid-Error) kept as evidence.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
  std::string received;  // every byte read so far: the head and the body bytes that came with it
};

// A response body counted (never kept) as Beast's parser decodes its framing: Content-Length,
// chunked, or up to the close. Fed the raw bytes of the response, head included.
class BodyCounter {
 public:
  enum class State { reading, complete, truncated, malformed };
  BodyCounter();
  ~BodyCounter();
  void feed(std::string_view bytes);
  void eof();  // the peer closed: a framed body that is not done is truncated
  State state() const { return state_; }
  uint64_t bytes() const;                    // decoded body bytes so far
  std::optional<uint64_t> expected() const;  // Content-Length, when there is one
  bool chunked() const;
  const std::string& error() const { return error_; }

 private:
  struct Parser;
  std::unique_ptr<Parser> p_;
  std::string pending_;
  State state_ = State::reading;
  std::string error_;
};

struct BodyRead {
  uint64_t bytes = 0;     // decoded body bytes
  bool complete = false;  // the whole body arrived (or `cap` bytes of it)
  bool capped = false;    // stopped at `cap` bytes: complete as far as it was read
  bool stalled = false;   // nothing arrived for a whole idle period
  bool truncated = false; // the body ended (close, reset) before its Content-Length or final chunk
  bool chunked = false;
  std::optional<uint64_t> expected;  // Content-Length
  double ms = 0;          // from the end of the head to the end of the body
  std::string error;      // the read error or framing error, if any
};

// Reads (and drops) the body, up to `cap` bytes, each read bounded by `idle`.
BodyRead read_body(Stream& s, const ResponseHead& head, Millis idle, uint64_t cap);

enum class HeadError { none, timeout, closed, malformed, io };

// Sends `request` and reads the response head. `error_text` explains a failure.
HeadError exchange_head(Stream& s, const std::string& request, Millis timeout, ResponseHead& out, std::string& error_text);

// The layer: GET path (absolute-form when `absolute_url` is set, for a plain-HTTP proxy).
// `extra_headers`: complete header lines ("Name: value\r\n"), e.g. Proxy-Authorization.
LayerResult probe_http(Stream& s, const std::string& host_header, const std::string& target_path, Millis timeout,
                       ResponseHead& head, const std::string& extra_headers = "");

// nginx (ssl_verify_client on) finishes the handshake without a client certificate, or with
// one it rejects, and answers 400 with its reason in the page: "No required SSL certificate
// was sent" or "The SSL certificate error". That phrase when `head` is such an answer, or "".
std::string_view client_cert_complaint(const ResponseHead& head);

// The headers of `head` that `edge trace` reports, as JSON evidence.
boost::json::object head_evidence(const ResponseHead& head);

}  // namespace edge::trace
