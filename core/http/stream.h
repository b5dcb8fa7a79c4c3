// HTTP/1 message streaming for every proxy on the core runtime: reading a request head with
// the strict raw checks first (core/http/syntax.h), relaying a message from one stream to
// another without ever holding its body whole, and answering a failure with a precise error
// response carrying Proxy-Status (RFC 9209). Knows nothing of backends or policies.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "core/base/duration.h"
#include "core/flow/proxy_error.h"
#include "core/http/fields.h"
#include "core/http/syntax.h"
#include "core/net/stream.h"

namespace edge::http {

// Parsers whose header fields live on the per-thread pool (core/http/fields.h).
template <bool isRequest>
using Parser = boost::beast::http::parser<isRequest, boost::beast::http::buffer_body, PoolAllocator<char>>;
using RequestParser = Parser<true>;
using ResponseParser = Parser<false>;

constexpr size_t kMaxHead = 64 * 1024;     // a request or response head, start line included
constexpr size_t kMaxFields = 100;         // header fields in a request
constexpr size_t kCopyBuffer = 64 * 1024;  // a busy connection's body copy buffer

// The error response: status line, Proxy-Status naming `e.error` (and the detail), a plain
// text body saying the same. Written within 5 s.
boost::asio::awaitable<void> send_error(Stream& s, const ProxyError& e, bool keep_alive, unsigned version, std::string_view proxy_name = "edge");

// Reads until `buf` holds a whole request head, checking each byte as it arrives: returns the
// head's length, or the problem as soon as the bytes can no longer be an HTTP/1.x head (a
// client speaking TLS or HTTP/0.9 is answered at once). Empty lines before the request line
// are consumed. A head longer than kMaxHead fails with header_limit before it is all read.
boost::asio::awaitable<std::tuple<boost::beast::error_code, size_t, HeadProblem>> read_raw_head(Stream& s, boost::beast::flat_buffer& buf);

// The result of relaying one message. On failure it says which side failed: a client that
// stops sending its body is not the destination's fault.
struct Relayed {
  boost::beast::error_code ec;
  bool reading_failed = false;  // the error came from `in` (else from `out`)
  bool head_sent = false;       // the message head has gone out
  bool complete = false;        // the whole message went out: the connections may carry another
  // `in` sent bytes that break HTTP framing (a bad chunk size): its fault, not an I/O failure.
  // (A body cut short by the sender's close is partial_message: it left, it did not lie.)
  bool malformed() const;
};

// Streams one message from `in` (its head already parsed by `p`) to `out`: the body is never
// held whole. Each read and write has the idle timeout. `buf` is the connection's own copy
// buffer (allocated on first need), `head` a reused string. A message framed by
// Content-Length (or without a body) goes out directly: its head and the body bytes that came
// with it in one write, the rest as it arrives; a chunked or close-framed one through Beast's
// serializer, which re-frames it. `bytes` counts the body bytes moved.
template <bool isRequest>
boost::asio::awaitable<Relayed> relay_message(Stream& in, boost::beast::flat_buffer& in_buf, Parser<isRequest>& p, Stream& out, Millis idle,
                                              uint64_t& bytes, std::vector<char>& buf, std::string& head);

// Reads a response head into `p` (a fresh parser: a parser reads one message), within
// `timeout`. Interim responses (100, 103) are not the answer: they are dropped and reading
// goes on, or the final response would stay in the buffer and reach the next user of the
// connection. 101 is final. `head_request`: the response has no body whatever it says.
boost::asio::awaitable<boost::beast::error_code> read_response_head(Stream& s, boost::beast::flat_buffer& buf, ResponseParser& p, bool head_request,
                                                                    Millis timeout);
// Puts a used response parser back in its first state, with the limits every proxy uses.
void reset(ResponseParser& p, bool head_request);

// The start line and fields of a message as one block of text, ready to send.
void fields_text(const RequestHead& h, std::string& out);
void fields_text(const ResponseHead& h, std::string& out);

}  // namespace edge::http
