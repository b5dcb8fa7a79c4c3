// HTTP/1 message streaming (core/http/stream.h).
#include "core/http/stream.h"
#include "core/net/relay.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http.hpp>
#include <array>

namespace edge::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {
// Socket reads are this large: a 64 KiB body crosses in a handful of reads, not a hundred.
constexpr size_t kReadPiece = 16 * 1024;
// Body bytes up to this size that came with their head are copied behind it and sent with it.
constexpr size_t kMergeBody = 4096;
// Length-framed bodies with at least this much still to come go through splice(2) when both
// sides are plain TCP (below it, a copy through the buffer costs less than the pipe's calls).
constexpr size_t kSpliceBody = 32 * 1024;
}  // namespace

bool Relayed::malformed() const {
  return reading_failed && &ec.category() == &beast::error_code(bhttp::error::bad_chunk).category() && ec != bhttp::error::partial_message &&
         ec != bhttp::error::end_of_stream;
}

asio::awaitable<void> send_error(Stream& s, const ProxyError& e, bool keep_alive, unsigned version, std::string_view proxy_name) {
  bhttp::response<bhttp::string_body> r{bhttp::status(e.status), version};
  r.set(bhttp::field::server, "edge");
  r.set("Proxy-Status", std::string(proxy_name) + "; error=" + std::string(e.error) + (e.detail.empty() ? "" : "; details=\"" + e.detail + "\""));
  r.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  r.body() = std::to_string(e.status) + " " + std::string(bhttp::obsolete_reason(bhttp::status(e.status))) + ": " +
             (e.detail.empty() ? std::string(e.error) : e.detail) + "\n";
  r.keep_alive(keep_alive);
  r.prepare_payload();
  s.expires_after(std::chrono::seconds(5));
  co_await bhttp::async_write(s, r, nothrow);
}

namespace {
using namespace std::string_view_literals;  // literals with their length: no strlen per field
void head_text(const RequestHead& h, std::string& out) {
  out.append(h.method_string()).append(" "sv).append(h.target());
  out.append(h.version() == 10 ? " HTTP/1.0\r\n"sv : " HTTP/1.1\r\n"sv);
}
void head_text(const ResponseHead& h, std::string& out) {
  const unsigned code = h.result_int();
  const char digits[3] = {char('0' + code / 100 % 10), char('0' + code / 10 % 10), char('0' + code % 10)};
  out.append(h.version() == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv).append(digits, 3).append(" "sv);
  out.append(h.reason().empty() ? bhttp::obsolete_reason(h.result()) : h.reason()).append("\r\n"sv);
}
template <class Header>
void write_fields(const Header& h, std::string& out) {
  head_text(h, out);
  for (const auto& f : h) out.append(f.name_string()).append(": "sv).append(f.value()).append("\r\n"sv);
  out.append("\r\n"sv);
}

}  // namespace

// One contiguous buffer instead of a serializer's scatter list (the direct path below).
void fields_text(const RequestHead& h, std::string& out) { write_fields(h, out); }
void fields_text(const ResponseHead& h, std::string& out) { write_fields(h, out); }

// One step of reading a chunked or close-framed body into `buf` through the parser: bytes
// already buffered are parsed at once, else the stream is read (one read, so a streamed
// response such as SSE goes out as each piece arrives). Returns the body bytes now in `buf`.
namespace {
template <bool isRequest>
asio::awaitable<std::tuple<beast::error_code, size_t>> read_body_piece(Stream& in, beast::flat_buffer& in_buf,
                                                                       Parser<isRequest>& p, std::vector<char>& buf,
                                                                       Millis idle) {
  auto& body = p.get().body();
  body.data = buf.data();
  body.size = buf.size();
  beast::error_code ec;
  // put() stops after each element (a chunk header, say): go on while it makes progress and
  // no body byte has come out, or a chunk already buffered would wait for the next read.
  const auto parse = [&] {
    while (in_buf.size() > 0 && !p.is_done() && body.size == buf.size()) {
      const size_t used = p.put(in_buf.data(), ec);
      in_buf.consume(used);
      if (ec == bhttp::error::need_more || ec == bhttp::error::need_buffer) ec = {};
      if (ec || used == 0) return;
    }
  };
  if (in_buf.size() > 0) parse();
  if (!ec && body.size == buf.size() && !p.is_done()) {
    // A chunk header longer than the buffer's room (a client's endless chunk extension) ends
    // here, as a malformed body.
    const size_t room = std::min(kReadPiece, in_buf.max_size() - in_buf.size());
    if (room == 0) co_return std::tuple{beast::error_code(bhttp::error::bad_chunk_extension), size_t(0)};
    in.expires_after(idle);
    auto [rec, n] = co_await in.async_read_some(in_buf.prepare(room), nothrow);
    if (rec == asio::error::eof) p.put_eof(ec);  // the end of a close-framed body, else partial_message
    else if (rec) ec = rec;
    else {
      in_buf.commit(n);
      parse();
    }
  }
  co_return std::tuple{ec, buf.size() - body.size};
}

// A chunked or close-framed message: Beast's serializer re-frames the body as it streams.
template <bool isRequest>
asio::awaitable<Relayed> relay_chunked(Stream& in, beast::flat_buffer& in_buf, Parser<isRequest>& p, Stream& out,
                                       Millis idle, uint64_t& bytes, std::vector<char>& buf) {
  Relayed r;
  if (buf.empty()) buf.resize(kCopyBuffer);
  bhttp::serializer<isRequest, bhttp::buffer_body, Fields> sr{p.get()};
  do {
    if (!p.is_done()) {
      auto [ec, n] = co_await read_body_piece(in, in_buf, p, buf, idle);
      if (ec) {
        r = {ec, true, sr.is_header_done()};
        co_return r;
      }
      p.get().body().size = n;
      p.get().body().data = buf.data();
      p.get().body().more = !p.is_done();
      bytes += n;
      if (n == 0 && !p.is_done()) {
        // The read ended on framing alone (a chunk header): nothing to pass on yet. An empty
        // piece must not reach the serializer, which would send it as the last chunk; the
        // head goes out now, though, so a streamed response starts at once.
        if (!sr.is_header_done()) {
          out.expires_after(idle);
          auto [hec, hn] = co_await bhttp::async_write_header(out, sr, nothrow);
          r.head_sent = true;
          if ((r.ec = hec)) co_return r;
        }
        continue;
      }
    } else {
      p.get().body().data = nullptr;
      p.get().body().size = 0;
      p.get().body().more = false;  // no body, or its end: let the serializer finish
    }
    out.expires_after(idle);
    auto [ec, n] = co_await bhttp::async_write(out, sr, nothrow);
    r.head_sent = true;
    if (ec == bhttp::error::need_buffer) ec = {};
    if ((r.ec = ec)) co_return r;
  } while (!p.is_done() && !sr.is_done());
  r.complete = p.is_done();
  co_return r;
}
}  // namespace

namespace {
// The part of `bufs` past the first `sent` bytes, written the asynchronous way (the socket was
// full): the slow path of Stream::write_now.
template <class Buffers>
asio::awaitable<beast::error_code> write_rest(Stream& out, const Buffers& bufs, size_t sent) {
  beast::buffers_suffix<Buffers> rest(bufs);
  rest.consume(sent);
  auto [ec, n] = co_await asio::async_write(out, rest, nothrow);
  co_return ec;
}
}  // namespace

template <bool isRequest>
asio::awaitable<Relayed> relay_message(Stream& in, beast::flat_buffer& in_buf, Parser<isRequest>& p, Stream& out,
                                       Millis idle, uint64_t& bytes, std::vector<char>& buf, std::string& head) {
  // (A response that ends with its head, HEAD's or a 204/304, goes the length-framed way even
  // when it says chunked: the serializer would append a last chunk that no client expects.)
  if (!p.is_done() && (p.chunked() || p.need_eof())) co_return co_await relay_chunked(in, in_buf, p, out, idle, bytes, buf);
  Relayed r;
  // Length-framed: the parser's work ends with the head. The head and the body bytes that
  // came with it go out in one write; the rest is read straight into `buf`, as much as the
  // socket has (up to what is left), and written on.
  head.clear();
  fields_text(p.get().base(), head);
  uint64_t left = p.is_done() ? 0 : p.content_length_remaining().value_or(0);
  const size_t early = size_t(std::min<uint64_t>(left, in_buf.size()));
  // A small body rides in the head's buffer: one plain send instead of a two-piece sendmsg.
  const bool merged = early <= kMergeBody;
  if (merged) head.append(static_cast<const char*>(in_buf.data().data()), early);
  const std::array<asio::const_buffer, 2> first{asio::buffer(head), asio::buffer(in_buf.data().data(), merged ? 0 : early)};
  out.expires_after(idle);
  r.ec = {};
  if (const size_t sent = out.write_now(first, r.ec); !r.ec && sent < asio::buffer_size(first)) r.ec = co_await write_rest(out, first, sent);
  if (r.ec) co_return r;
  r.head_sent = true;
  in_buf.consume(early);
  left -= early;
  bytes += early;
  if (left >= kSpliceBody && !in.tls() && !out.tls()) {
    // A large body between plain sockets moves through a pipe, never copied into this process.
    const SpliceResult moved = co_await splice_exactly(in, out, left, idle, bytes);
    if (moved.ec) {
      r.ec = moved.ec == asio::error::eof ? beast::error_code(bhttp::error::partial_message) : moved.ec;
      r.reading_failed = moved.reading_failed;
      co_return r;
    }
    left = 0;
  }
  if (left > 0 && buf.empty()) buf.resize(kCopyBuffer);  // only bodies that did not come with their head need it
  while (left > 0) {
    in.expires_after(idle);
    auto [rec, n] = co_await in.async_read_some(asio::buffer(buf.data(), size_t(std::min<uint64_t>(left, buf.size()))), nothrow);
    if (rec) {
      r.ec = rec == asio::error::eof ? beast::error_code(bhttp::error::partial_message) : rec;
      r.reading_failed = true;
      co_return r;
    }
    out.expires_after(idle);
    const asio::const_buffer piece(buf.data(), n);
    if (const size_t sent = out.write_now(piece, r.ec); !r.ec && sent < n) r.ec = co_await write_rest(out, piece, sent);
    if (r.ec) co_return r;
    left -= n;
    bytes += n;
  }
  r.complete = true;
  co_return r;
}

template asio::awaitable<Relayed> relay_message<true>(Stream&, beast::flat_buffer&, Parser<true>&, Stream&, Millis, uint64_t&, std::vector<char>&, std::string&);
template asio::awaitable<Relayed> relay_message<false>(Stream&, beast::flat_buffer&, Parser<false>&, Stream&, Millis, uint64_t&, std::vector<char>&, std::string&);

asio::awaitable<std::tuple<beast::error_code, size_t, HeadProblem>> read_raw_head(Stream& s, beast::flat_buffer& buf) {
  http::HeadScanner scanner;
  while (true) {
    const std::string_view have(static_cast<const char*>(buf.data().data()), buf.size());
    if (auto problem = scanner.scan(have)) co_return std::tuple{beast::error_code{}, size_t(0), std::move(problem)};
    if (const size_t n = scanner.length()) {
      if (n > kMaxHead) break;
      buf.consume(scanner.leading());
      co_return std::tuple{beast::error_code{}, n - scanner.leading(), HeadProblem{}};
    }
    if (have.size() > kMaxHead) break;
    auto [ec, n] = co_await s.async_read_some(buf.prepare(8192), nothrow);
    if (ec) co_return std::tuple{ec == asio::error::eof ? beast::error_code(bhttp::error::end_of_stream) : ec, size_t(0), HeadProblem{}};
    buf.commit(n);
  }
  co_return std::tuple{beast::error_code(bhttp::error::header_limit), size_t(0), HeadProblem{}};
}

void reset(ResponseParser& p, bool head_request) {
  p.~ResponseParser();
  new (&p) ResponseParser();
  p.body_limit(boost::none);  // bodies stream through; no size is buffered
  p.header_limit(kMaxHead);
  if (head_request) p.skip(true);
}

// The parser is fed from the buffer and the buffer from the socket, in one loop (Beast's
// async_read_header does the same through two composed operations and an executor work guard
// per read, a measurable share of a small request's time).
asio::awaitable<beast::error_code> read_response_head(Stream& s, beast::flat_buffer& buf, ResponseParser& p, bool head_request, Millis timeout) {
  s.expires_after(timeout);
  beast::error_code ec;
  while (true) {
    while (buf.size() > 0 && !p.is_header_done()) {
      const size_t used = p.put(buf.data(), ec);
      buf.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec) co_return ec;
      if (used == 0) break;
    }
    if (p.is_header_done()) {
      // An interim response (100 Continue, 103 Early Hints) is dropped; the final one follows.
      const unsigned code = p.get().result_int();
      if (code < 100 || code >= 200 || p.get().result() == bhttp::status::switching_protocols) co_return ec;
      reset(p, head_request);
      continue;
    }
    const size_t room = std::min(kReadPiece, buf.max_size() - buf.size());
    if (room == 0) co_return beast::error_code(bhttp::error::header_limit);
    auto [rec, n] = co_await s.async_read_some(buf.prepare(room), nothrow);
    if (rec == asio::error::eof) {
      // Beast's rule: nothing at all is end_of_stream (a pooled connection the backend closed),
      // part of a head is partial_message.
      if (p.got_some()) p.put_eof(ec);
      else ec = bhttp::error::end_of_stream;
      co_return ec;
    }
    if (rec) co_return rec;
    buf.commit(n);
  }
}

}  // namespace edge::http
