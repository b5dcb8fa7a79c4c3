// HTTP/1.1 response heads with Beast's parser fed by hand, so the I/O stays the trace's own
// deadline-bounded stream and the body is never read.
#include "core/trace/http_probe.h"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/optional/optional.hpp>

#include <cerrno>
#include <cstring>
#include <limits>

#include "core/trace/classify.h"
#include "core/version/version.h"

namespace edge::trace {
namespace http = boost::beast::http;

namespace {
constexpr const char* kReported[] = {"server", "via", "x-cache", "proxy-status", "x-squid-error", "content-type", "location"};

// A Beast body that only counts the decoded bytes.
struct counting_body {
  struct value_type {
    uint64_t n = 0;  // a response without a body never calls the reader
  };
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& n) : n_(n) {}
    void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      const std::size_t n = boost::asio::buffer_size(buffers);
      n_.n += n;
      return n;
    }
    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& n_;
  };
};
}  // namespace

struct BodyCounter::Parser {
  http::response_parser<counting_body> p;
};

BodyCounter::BodyCounter() : p_(std::make_unique<Parser>()) {
  p_->p.eager(true);
  p_->p.header_limit(64 * 1024);
  p_->p.body_limit(std::numeric_limits<std::uint64_t>::max());  // the caller caps what it reads
}
BodyCounter::~BodyCounter() = default;

void BodyCounter::feed(std::string_view bytes) {
  if (state_ != State::reading) return;
  pending_.append(bytes);
  while (!pending_.empty() && !p_->p.is_done()) {
    boost::beast::error_code ec;
    const size_t used = p_->p.put(boost::asio::buffer(pending_), ec);
    pending_.erase(0, used);
    if (ec == http::error::need_more) break;
    if (ec) {
      state_ = State::malformed;
      error_ = ec.message();
      return;
    }
    if (used == 0) break;
  }
  if (p_->p.is_done()) state_ = State::complete;
}

void BodyCounter::eof() {
  if (state_ != State::reading) return;
  boost::beast::error_code ec;
  p_->p.put_eof(ec);
  if (!ec) {
    state_ = State::complete;  // a body delimited by the close
    return;
  }
  state_ = ec == http::error::partial_message ? State::truncated : State::malformed;
  error_ = ec.message();
}

uint64_t BodyCounter::bytes() const { return p_->p.get().body().n; }
std::optional<uint64_t> BodyCounter::expected() const {
  if (!p_->p.is_header_done() || !p_->p.content_length()) return std::nullopt;
  return *p_->p.content_length();
}
bool BodyCounter::chunked() const { return p_->p.is_header_done() && p_->p.chunked(); }

HeadError exchange_head(Stream& s, const std::string& request, Millis timeout, ResponseHead& out, std::string& error_text) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  int err = 0;
  if (!s.write_all(request, deadline, err)) {
    error_text = std::string("sending the request failed: ") + std::strerror(err);
    return err == ETIMEDOUT ? HeadError::timeout : HeadError::io;
  }
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // the head is all a diagnosis needs
  parser.header_limit(64 * 1024);
  std::string buf;
  char chunk[4096];
  bool first = true;
  while (!parser.is_header_done()) {
    long n = s.read_some(chunk, sizeof chunk, deadline, err);
    if (n < 0) {
      error_text = err == ETIMEDOUT ? "no response within " + format_duration(timeout) : std::string("reading failed: ") + std::strerror(err);
      return err == ETIMEDOUT ? HeadError::timeout : HeadError::io;
    }
    if (n == 0) {
      error_text = buf.empty() ? "the connection closed without a response" : "the connection closed in the middle of the response head";
      return HeadError::closed;
    }
    if (first) {
      out.first_byte_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      first = false;
    }
    buf.append(chunk, size_t(n));
    out.received.append(chunk, size_t(n));
    boost::beast::error_code ec;
    const size_t used = parser.put(boost::asio::buffer(buf), ec);
    buf.erase(0, used);
    if (ec == http::error::need_more) continue;
    if (ec) {
      error_text = "not a valid HTTP response: " + ec.message();
      return HeadError::malformed;
    }
  }
  const auto& res = parser.get();
  if (auto cl = parser.content_length()) out.content_length = *cl;
  out.status = res.result_int();
  out.reason = std::string(res.reason());
  for (const char* name : kReported) {
    auto it = res.find(name);
    if (it != res.end()) out.headers[name] = std::string(it->value());
  }
  return HeadError::none;
}

BodyRead read_body(Stream& s, const ResponseHead& head, Millis idle, uint64_t cap) {
  BodyRead r;
  const auto start = Clock::now();
  BodyCounter body;
  body.feed(head.received);
  char chunk[16384];
  while (body.state() == BodyCounter::State::reading && body.bytes() < cap) {
    int err = 0;
    const long n = s.read_some(chunk, sizeof chunk, Clock::now() + idle, err);
    if (n == 0) {
      body.eof();
      break;
    }
    if (n < 0) {
      r.stalled = err == ETIMEDOUT;
      if (!r.stalled) {
        r.error = std::strerror(err);
        r.truncated = true;  // reset under the body: it ended before its end
      }
      break;
    }
    body.feed(std::string_view(chunk, size_t(n)));
  }
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  r.bytes = body.bytes();
  r.expected = body.expected();
  r.chunked = body.chunked();
  r.capped = body.state() == BodyCounter::State::reading && body.bytes() >= cap;
  r.complete = body.state() == BodyCounter::State::complete || r.capped;
  r.truncated = r.truncated || body.state() == BodyCounter::State::truncated;
  if (body.state() == BodyCounter::State::truncated || body.state() == BodyCounter::State::malformed) r.error = body.error();
  return r;
}

std::string_view client_cert_complaint(const ResponseHead& head) {
  if (head.status != 400) return {};
  for (std::string_view phrase : {"No required SSL certificate was sent", "The SSL certificate error"})
    if (head.received.find(phrase) != std::string::npos) return phrase;
  return {};
}

boost::json::object head_evidence(const ResponseHead& head) {
  boost::json::object e;
  e["status"] = head.status;
  e["reason"] = head.reason;
  e["first_byte_ms"] = std::round(head.first_byte_ms * 100) / 100;
  boost::json::object h;
  for (auto& [k, v] : head.headers) h[k] = v;
  e["headers"] = std::move(h);
  return e;
}

LayerResult probe_http(Stream& s, const std::string& host_header, const std::string& target_path, Millis timeout,
                       ResponseHead& head, const std::string& extra_headers) {
  LayerClock clock;
  LayerResult r;
  r.name = "http";
  const std::string request = "GET " + target_path + " HTTP/1.1\r\nHost: " + host_header +
                              "\r\nUser-Agent: edge-trace/" + std::string(version()) + "\r\nAccept: */*\r\nConnection: close\r\n" + extra_headers + "\r\n";
  std::string error_text;
  const HeadError e = exchange_head(s, request, timeout, head, error_text);
  r.duration_ms = clock.elapsed_ms();
  r.evidence["request"] = "GET " + target_path;
  if (e == HeadError::timeout) return fail(std::move(r), "timeout", error_text);
  if (e != HeadError::none) return fail(std::move(r), "protocol_error", error_text);
  r.evidence["response"] = head_evidence(head);
  std::string line = std::to_string(head.status) + " " + head.reason;
  if (auto it = head.headers.find("server"); it != head.headers.end()) line += " from " + it->second;
  line += ", first byte after " + std::to_string(int(head.first_byte_ms + 0.5)) + "ms";
  if (auto it = head.headers.find("proxy-status"); it != head.headers.end()) line += " (Proxy-Status: " + it->second + ")";
  return decide(std::move(r), std::string(classify_http_status(head.status)), line);
}

}  // namespace edge::trace
