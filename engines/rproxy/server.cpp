// `edge rproxy`: the reverse proxy. One io_context per thread, each with its own SO_REUSEPORT
// listener, keepalive pool of backend connections, deadline list and idle set (no locks on
// the request path). A client connection is a coroutine while it is busy: read a request
// head (bounded, strict framing), rewrite its headers, pick a backend (another one when a
// connect fails, or when a bodiless idempotent request's backend dies before answering),
// stream the body over, stream the response back, keep both connections alive when both ends
// allow it. Idle, it is parked (engines/rproxy/idle.h). Clients and backends may speak TLS
// (core/net/stream.h). Failures become precise responses with Proxy-Status (RFC 9209): 502
// refused/reset/TLS, 504 timeout, 503 no healthy backend.
#include <openssl/ssl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <deque>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "core/base/errors.h"
#include "core/control/control.h"
#include "core/flow/table.h"
#include "core/http/forwarding.h"
#include "core/http/request_rules.h"
#include "core/http/syntax.h"
#include "core/net/port_owner.h"
#include "core/net/relay.h"
#include "core/net/stream.h"
#include "core/tls/contexts.h"
#include "engines/rproxy/access_log.h"
#include "engines/rproxy/backends.h"
#include "engines/rproxy/idle.h"
#include "engines/rproxy/metrics.h"
#include "engines/rproxy/options.h"

namespace edge::rproxy {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;
// Parsers whose header fields live on the per-thread pool (core/http/fields.h).
using RequestParser = bhttp::request_parser<bhttp::buffer_body, PoolAllocator<char>>;
using ResponseParser = bhttp::response_parser<bhttp::buffer_body, PoolAllocator<char>>;

namespace {

IpAddr to_ipaddr(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddr::from_bytes(Family::v4, a.to_v4().to_bytes().data());
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return IpAddr::from_bytes(Family::v4, asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes().data());
  return IpAddr::from_bytes(Family::v6, v6.to_bytes().data());
}

asio::ip::address to_asio(const IpAddr& a) {
  if (a.family() == Family::v4) {
    asio::ip::address_v4::bytes_type b;
    std::copy(a.bytes(), a.bytes() + 4, b.begin());
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b;
  std::copy(a.bytes(), a.bytes() + 16, b.begin());
  return asio::ip::address_v6(b);
}

std::string via_token() {
  char id[16];
  std::snprintf(id, sizeof id, "%08x", unsigned(std::random_device{}()));
  return std::string("edge-") + id;
}

struct Shared {
  const Options& o;
  BackendSet backends;
  AccessLog log;
  Metrics metrics;
  FlowTable flows{"edge:rproxy:" + std::to_string(getpid())};
  std::atomic<unsigned> conns{0};
  std::atomic<bool> draining{false};
  tls::ServerContext server_tls;                    // ctx null: clients speak plain HTTP/TCP
  std::unique_ptr<asio::ssl::context> upstream_tls;  // null: backends speak plain
  // This process's name in Via ("1.1 edge-3f9a2c1d"): unique, so a request that comes back
  // to the same proxy is recognised (508) while a chain of different edges is not.
  std::string via_by = via_token();
  std::string via = "1.1 " + via_by;
  Shared(const Options& opts) : o(opts), backends(opts), log(opts.access_log, opts.log_format), metrics(backends.size()) {}
};

// The record of what never became a proxied request (a refused head, a failed handshake, a
// TCP connection): logged, and counted when a response was sent.
void log_line(Shared& sh, const IpAddr& peer, bool tcp, unsigned status, uint64_t bytes, std::string_view backend, std::string_view cause) {
  if (!tcp && status) sh.metrics.request(-1, status, 0);
  if (sh.log.on()) sh.log.write({.client = peer, .tcp = tcp, .status = status, .bytes = bytes, .backend = backend, .cause = cause});
}

// Access-log causes are single tokens: "relay_Connection_reset_by_peer@body".
// Anything else (a client's Upgrade value, say) becomes '_', so a cause cannot forge fields.
std::string token(std::string s) {
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("._:@/-").find(c) == std::string_view::npos) c = '_';
  return s;
}

struct ConnCount {
  std::atomic<unsigned>& n;
  // adopt: the connection is already counted (it comes back from the parked set).
  explicit ConnCount(std::atomic<unsigned>& c, bool adopt = false) : n(c) {
    if (!adopt) ++n;
  }
  ~ConnCount() { --n; }
};

// The flow-table tuple of a backend connection: backend -> our address toward it (the
// translation a proxy does), read once when the connection is made.
Tuple reply_tuple(const tcp::socket& up) {
  beast::error_code ec;
  const auto remote = up.remote_endpoint(ec), local = up.local_endpoint(ec);
  return {to_ipaddr(remote.address()), to_ipaddr(local.address()), remote.port(), local.port()};
}

// Socket reads are this large: a 64 KiB body crosses in a handful of reads, not a hundred.
constexpr size_t kReadPiece = 16 * 1024;
// A busy connection's copy buffer for bodies: a 64 KiB body crosses in one read and one write
// when the socket has it all. Allocated when a body needs it, freed when the connection parks.
constexpr size_t kCopyBuffer = 64 * 1024;

struct Upstream {
  Stream stream;
  beast::flat_buffer buffer;
  Tuple reply;
  Clock::time_point idle_since;  // when it went back to the pool
  // The buffer starts large enough for a response head and a small body in one read (larger
  // bodies are read straight into the connection's copy buffer).
  explicit Upstream(tcp::socket s) : stream(std::move(s)), reply(reply_tuple(stream.socket())) { buffer.reserve(4096); }
};

// Idle backend connections of one thread, per backend. A connection the backend closed while
// idle is noticed (peek reads EOF) and dropped instead of reused.
class Pool {
 public:
  Pool(size_t backends, unsigned keep) : idle_(backends), keep_(keep) {}
  std::unique_ptr<Upstream> take(size_t i) {
    auto& q = idle_[i];
    while (!q.empty()) {
      auto u = std::move(q.back());
      q.pop_back();
      // Just back from a request: the backend has had no time to close it (and if it did,
      // the stale-connection retry covers a bodiless request). Saves a syscall per request.
      if (Clock::now() - u->idle_since < std::chrono::milliseconds(200)) return u;
      char c;
      const ssize_t n = ::recv(u->stream.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return u;  // open and quiet: reusable
    }
    return nullptr;
  }
  // A connection to an address the backend's name no longer resolves to is not kept: the pool
  // follows DNS as new connections do.
  void put(size_t i, const Backend& b, std::unique_ptr<Upstream> u) {
    u->idle_since = Clock::now();
    const auto addresses = b.addresses.load();
    if (idle_[i].size() < keep_ && std::find(addresses->begin(), addresses->end(), u->reply.src) != addresses->end())
      idle_[i].push_back(std::move(u));
  }

 private:
  std::vector<std::vector<std::unique_ptr<Upstream>>> idle_;
  unsigned keep_;
};

constexpr size_t kMaxHead = 64 * 1024;

struct ProxyError {
  unsigned status = 0;
  std::string_view error;  // RFC 9209 error type (a literal)
  std::string detail;
};

asio::awaitable<void> send_error(Stream& s, const ProxyError& e, bool keep_alive, unsigned version) {
  bhttp::response<bhttp::string_body> r{bhttp::status(e.status), version};
  r.set(bhttp::field::server, "edge");
  r.set("Proxy-Status", "edge; error=" + std::string(e.error) + (e.detail.empty() ? "" : "; details=\"" + e.detail + "\""));
  r.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  r.body() = std::to_string(e.status) + " " + std::string(bhttp::obsolete_reason(bhttp::status(e.status))) + ": " +
             (e.detail.empty() ? std::string(e.error) : e.detail) + "\n";
  r.keep_alive(keep_alive);
  r.prepare_payload();
  s.expires_after(std::chrono::seconds(5));
  co_await bhttp::async_write(s, r, nothrow);
}

// The start line and fields of a message as one block of text, ready to send (for the direct
// path below: one contiguous buffer instead of a serializer's scatter list).
void head_text(const http::RequestHead& h, std::string& out) {
  out.append(h.method_string()).append(" ").append(h.target());
  out.append(h.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
}
void head_text(const http::ResponseHead& h, std::string& out) {
  out.append(h.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(h.result_int())).append(" ");
  out.append(h.reason().empty() ? bhttp::obsolete_reason(h.result()) : h.reason()).append("\r\n");
}
template <class Header>
void fields_text(const Header& h, std::string& out) {
  head_text(h, out);
  for (const auto& f : h) out.append(f.name_string()).append(": ").append(f.value()).append("\r\n");
  out.append("\r\n");
}

// One step of reading a chunked or close-framed body into `buf` through the parser: bytes
// already buffered are parsed at once, else the stream is read (one read, so a streamed
// response such as SSE goes out as each piece arrives). Returns the body bytes now in `buf`.
template <bool isRequest>
asio::awaitable<std::tuple<beast::error_code, size_t>> read_body_piece(Stream& in, beast::flat_buffer& in_buf,
                                                                       bhttp::parser<isRequest, bhttp::buffer_body, PoolAllocator<char>>& p, std::vector<char>& buf,
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

// Streams one message from `in` to `out` through a small buffer, head first: the body is
// never held whole. Each read and write has the idle timeout. `buf` is the connection's own
// copy buffer, reused for every message it carries. On failure, the result says which side
// failed: a client that stops sending its body is not the backend's fault. A message framed by Content-Length (or without a body) goes out directly:
// its head as one block of text, then the body bytes as they arrive; a chunked one through
// Beast's serializer, which re-frames it.
struct Relayed {
  beast::error_code ec;
  bool reading_failed = false;  // the error came from `in` (else from `out`)
  bool head_sent = false;       // the message head has gone out
  bool complete = false;        // the whole message went out: the connections may carry another
  // `in` sent bytes that break HTTP framing (a bad chunk size): its fault, not an I/O failure.
  // (A body cut short by the sender's close is partial_message: it left, it did not lie.)
  bool malformed() const {
    return reading_failed && &ec.category() == &beast::error_code(bhttp::error::bad_chunk).category() && ec != bhttp::error::partial_message &&
           ec != bhttp::error::end_of_stream;
  }
};
// A chunked or close-framed message: Beast's serializer re-frames the body as it streams.
template <bool isRequest>
asio::awaitable<Relayed> relay_chunked(Stream& in, beast::flat_buffer& in_buf, bhttp::parser<isRequest, bhttp::buffer_body, PoolAllocator<char>>& p, Stream& out,
                                       Millis idle, uint64_t& bytes, std::vector<char>& buf, std::string& head) {
  Relayed r;
  if (buf.empty()) buf.resize(kCopyBuffer);
  bhttp::serializer<isRequest, bhttp::buffer_body, http::Fields> sr{p.get()};
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

template <bool isRequest>
asio::awaitable<Relayed> relay_message(Stream& in, beast::flat_buffer& in_buf, bhttp::parser<isRequest, bhttp::buffer_body, PoolAllocator<char>>& p, Stream& out,
                                       Millis idle, uint64_t& bytes, std::vector<char>& buf, std::string& head) {
  // (A response that ends with its head, HEAD's or a 204/304, goes the length-framed way even
  // when it says chunked: the serializer would append a last chunk that no client expects.)
  if (!p.is_done() && (p.chunked() || p.need_eof())) co_return co_await relay_chunked(in, in_buf, p, out, idle, bytes, buf, head);
  Relayed r;
  // Length-framed: the parser's work ends with the head. The head and the body bytes that
  // came with it go out in one write; the rest is read straight into `buf`, as much as the
  // socket has (up to what is left), and written on.
  head.clear();
  fields_text(p.get().base(), head);
  uint64_t left = p.is_done() ? 0 : p.content_length_remaining().value_or(0);
  const size_t early = size_t(std::min<uint64_t>(left, in_buf.size()));
  const std::array<asio::const_buffer, 2> first{asio::buffer(head), asio::buffer(in_buf.data().data(), early)};
  out.expires_after(idle);
  auto [wec, wn] = co_await asio::async_write(out, first, nothrow);
  if ((r.ec = wec)) co_return r;
  r.head_sent = true;
  in_buf.consume(early);
  left -= early;
  bytes += early;
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
    auto [wec2, wn2] = co_await asio::async_write(out, asio::buffer(buf.data(), n), nothrow);
    if ((r.ec = wec2)) co_return r;
    left -= n;
    bytes += n;
  }
  r.complete = true;
  co_return r;
}

// Reads until the buffer holds a whole request head, checking each byte as it arrives
// (core/http/syntax.h): returns the head's length, or the problem as soon as the bytes can no
// longer be an HTTP/1.x head (a client speaking TLS or HTTP/0.9 is answered at once). Empty
// lines before the request line are consumed. A head longer than kMaxHead fails with
// header_limit before it is all read.
asio::awaitable<std::tuple<beast::error_code, size_t, http::HeadProblem>> read_raw_head(Stream& s, beast::flat_buffer& buf) {
  http::HeadScanner scanner;
  while (true) {
    const std::string_view have(static_cast<const char*>(buf.data().data()), buf.size());
    if (auto problem = scanner.scan(have)) co_return std::tuple{beast::error_code{}, size_t(0), std::move(problem)};
    if (const size_t n = scanner.length()) {
      if (n > kMaxHead) break;
      buf.consume(scanner.leading());
      co_return std::tuple{beast::error_code{}, n - scanner.leading(), http::HeadProblem{}};
    }
    if (have.size() > kMaxHead) break;
    auto [ec, n] = co_await s.async_read_some(buf.prepare(8192), nothrow);
    if (ec) co_return std::tuple{ec == asio::error::eof ? beast::error_code(bhttp::error::end_of_stream) : ec, size_t(0), http::HeadProblem{}};
    buf.commit(n);
  }
  co_return std::tuple{beast::error_code(bhttp::error::header_limit), size_t(0), http::HeadProblem{}};
}

asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> connect_backend(Shared& sh, Backend& b) {
  auto ex = co_await asio::this_coro::executor;
  ProxyError last{502, "destination_not_found", b.name + " did not resolve"};
  const auto addresses = b.addresses.load();  // a snapshot: re-resolution may swap it meanwhile
  for (const IpAddr& a : *addresses) {
    beast::tcp_stream s(ex);
    s.expires_after(sh.o.connect_timeout);
    auto [ec] = co_await s.async_connect(tcp::endpoint(to_asio(a), b.port), nothrow);
    if (!ec) {
      s.socket().set_option(tcp::no_delay(true));
      s.expires_never();
      auto up = std::make_unique<Upstream>(s.release_socket());
      if (sh.upstream_tls) {
        // https backend: SNI is the backend's name, and its certificate must carry that name
        // (or address) and chain to the trusted roots, unless --upstream-insecure.
        auto& t = up->stream.start_tls(*sh.upstream_tls);
        tls::prepare_client(t, b.host, !sh.o.upstream_insecure);
        up->stream.expires_after(sh.o.connect_timeout);
        auto [hec] = co_await up->stream.async_handshake(asio::ssl::stream_base::client, nothrow);
        up->stream.expires_never();
        if (hec) {
          const bool cert = SSL_get_verify_result(t.native_handle()) != X509_V_OK;
          last = {502, hec == beast::error::timeout ? "tls_protocol_error" : cert ? "tls_certificate_error" : "tls_protocol_error",
                  b.name + ": TLS handshake failed: " + (hec == beast::error::timeout ? std::string("timed out") : tls::handshake_error(t, hec))};
          continue;
        }
      }
      std::pair<std::unique_ptr<Upstream>, ProxyError> ok{std::move(up), ProxyError{}};
      co_return ok;
    }
    if (ec == beast::error::timeout) last = {504, "connection_timeout", "connecting to " + b.name + " timed out"};
    else if (ec == asio::error::connection_refused) last = {502, "connection_refused", b.name + " refused the connection"};
    else last = {502, "destination_unavailable", b.name + ": " + ec.message()};
  }
  std::pair<std::unique_ptr<Upstream>, ProxyError> none{nullptr, last};
  co_return none;
}

// The flow of a client connection, conntrack-style: original = client -> our listener; reply,
// once a backend is chosen = backend -> our address toward it (the translation a proxy does).
Flow client_flow(const tcp::socket& s, const Options& o) {
  beast::error_code ec;
  const auto remote = s.remote_endpoint(ec), local = s.local_endpoint(ec);
  Flow f;
  f.proto = 6;  // IPPROTO_TCP
  f.state = "ESTABLISHED";
  f.timeout = uint32_t(std::chrono::duration_cast<std::chrono::seconds>(o.idle_timeout).count());
  f.orig = {to_ipaddr(remote.address()), to_ipaddr(local.address()), remote.port(), local.port()};
  f.family = f.orig.src.family();
  f.reply = {f.orig.dst, f.orig.src, f.orig.dport, f.orig.sport};
  f.assured = true;
  f.orig_counters = Counters{};
  f.reply_counters = Counters{};
  return f;
}

void set_backend(FlowHandle& flow, const Upstream& up) {
  flow.update([&](Flow& f) {
    if (f.reply == up.reply) return;
    f.reply = up.reply;
    classify_nat(f, std::nullopt);
  });
}

void count_bytes(Shared& sh, FlowHandle& flow, uint64_t to_backend, uint64_t to_client) {
  sh.metrics.bytes(to_client, to_backend);
  flow.update([&](Flow& f) {
    f.orig_counters->bytes += to_backend;
    f.reply_counters->bytes += to_client;
  });
}

// The backends one request may go to: the balancer's plan, how far it was tried, and the
// connection in hand.
struct Pick {
  std::vector<size_t>& plan;  // the connection's, reused: no allocation per request
  size_t tried = 0;
  std::unique_ptr<Upstream> up;
  Backend* backend = nullptr;
  size_t index = 0;
  bool reused = false;
  ProxyError failure{503, "destination_unavailable", {}};  // details filled in when it is sent
};

// What one request needs while it is served, built in place in its connection for each
// request: in the coroutine's frame it would make the frame too large for Asio's frame
// recycling, a malloc per request.
struct Exchange {
  RequestParser req_p;
  ResponseParser res_p;
  Pick pick;
  explicit Exchange(std::vector<size_t>& plan) : pick{plan} {}
};

// The next backend of the plan that gives a connection, pooled or new; `up` stays null when
// none is left (`failure` says why the last one failed).
asio::awaitable<void> pick_next(Shared& sh, Pool& pool, Pick& p) {
  p.up.reset();
  while (p.tried < p.plan.size()) {
    const size_t i = p.plan[p.tried++];
    Backend& b = sh.backends.at(i);
    p.reused = false;
    if ((p.up = pool.take(i))) {
      p.reused = true;
    } else {
      auto connected = co_await connect_backend(sh, b);
      if (!connected.first) {
        sh.backends.failed(b, connected.second.error);
        p.failure = connected.second;
        continue;
      }
      p.up = std::move(connected.first);
    }
    p.backend = &b;
    p.index = i;
    co_return;
  }
}

// One client connection's lasting state. Kept small: an idle keep-alive connection costs only
// this and its socket; everything a request needs lives in serve_request()'s frame, which
// exists only while a request is being served.
struct ClientConn {
  Shared& sh;
  Pool& pool;
  IpAddr peer;
  bool trusted = false;
  FlowHandle flow;
  Stream client;
  beast::flat_buffer cbuf{kMaxHead + 16 * 1024};  // a head over the limit cannot even be buffered
  std::vector<char> copy_buf;                      // allocated for the first body that needs it, freed when parked
  std::string head;                                // a message head as text, reused
  // The request being served, and what its access-log line keeps of it (capacity reused).
  std::optional<Exchange> exchange;
  std::vector<size_t> plan;
  std::string method, target, agent;
  bool first = true;
  ClientConn(Shared& s, Pool& p, const IpAddr& a, bool t, tcp::socket sock)
      : sh(s), pool(p), peer(a), trusted(t), flow(s.flows, client_flow(sock, s.o)), client(std::move(sock)) {}
  // A connection coming back from the parked set: its flow is already in the table.
  ClientConn(Shared& s, Pool& p, const Idle::Parked& parked, tcp::socket sock)
      : sh(s), pool(p), peer(parked.peer), trusted(parked.trusted), flow(s.flows, parked.flow, FlowHandle::Adopt{}), client(std::move(sock)),
        first(!parked.served) {}
};

// A TLS connection ends with close_notify, so a body framed by the close is not taken for a
// truncation; the peer's own close_notify is waited for only briefly.
asio::awaitable<void> tls_goodbye(Stream& s) {
  if (!s.tls()) co_return;
  s.expires_after(std::chrono::milliseconds(200));
  co_await s.tls()->async_shutdown(nothrow);
}

// The TLS handshake of a client connection (--tls-cert/--tls-auto), within --header-timeout.
asio::awaitable<bool> tls_accept(Shared& sh, Stream& client, const IpAddr& peer) {
  auto& t = client.start_tls(*sh.server_tls.ctx);
  client.expires_after(sh.o.header_timeout);
  auto [ec] = co_await client.async_handshake(asio::ssl::stream_base::server, nothrow);
  if (!ec) co_return true;
  const std::string why = ec == beast::error::timeout ? std::string("timeout") : tls::handshake_error(t, ec);
  if (ec.category() == asio::error::get_ssl_category() && ERR_GET_REASON(ec.value()) == SSL_R_HTTP_REQUEST) {
    // Plain HTTP sent to the TLS port (nginx answers the same way): say so in plain HTTP.
    static constexpr std::string_view kPlain =
        "HTTP/1.1 400 Bad Request\r\nServer: edge\r\nProxy-Status: edge; error=http_request_error; details=\"plain HTTP sent to a TLS port\"\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 55\r\nConnection: close\r\n\r\n"
        "400 Bad Request: plain HTTP request sent to a TLS port\n";
    client.expires_after(std::chrono::seconds(5));
    co_await asio::async_write(client.socket(), asio::buffer(kPlain), nothrow);
    log_line(sh, peer, false, 400, 0, "", "plain_http_to_tls_port@handshake");
    co_return false;
  }
  // A port scanner or a client that distrusts the certificate: one log line, no response.
  sh.metrics.tls_failure();
  log_line(sh, peer, false, 0, 0, "", token("tls_handshake_failed:" + why) + "@handshake");
  co_return false;
}

bool trusted_peer(const Options& o, const IpAddr& peer) {
  return std::any_of(o.trust_proxy.begin(), o.trust_proxy.end(), [&](const Cidr& c) { return c.contains(peer); });
}

// One worker thread's own state: its backend pool and its idle client connections.
struct Worker {
  Deadlines& deadlines;  // the timeouts of this thread's streams (outlives the io_context)
  Pool pool;
  Idle idle;
  Worker(Shared& sh, Deadlines& d)
      : deadlines(d), pool(sh.backends.size(), sh.o.keepalive), idle(sh.flows, sh.conns, std::chrono::milliseconds(40)) {}
};

// Serves the requests of a client connection until it closes (or is parked: it waits without
// a coroutine then). One coroutine per connection, not per request: a frame this large is
// beyond Asio's frame recycling, and would cost a malloc per request.
asio::awaitable<void> serve_connection(ClientConn& c, Worker& w) {
  Shared& sh = c.sh;
  Pool& pool = c.pool;
  const Options& o = sh.o;
  const IpAddr& peer = c.peer;
  const bool trusted = c.trusted;
  FlowHandle& flow = c.flow;
  Stream& client = c.client;
  beast::flat_buffer& cbuf = c.cbuf;
  std::vector<char>& copy_buf = c.copy_buf;
  bool& first = c.first;
  beast::error_code ec0;
  while (true) {
    const Millis limit = c.first ? o.header_timeout : o.keepalive_timeout;
    client.expires_after(limit);
    // Nothing buffered: read, as a waiter on the idle set's timeouts; the sweeper parks a plain
    // connection whose wait goes on (TLS state cannot be parked). A read, not a readiness wait:
    // Asio skips the attempt when the last read drained the socket, so a keepalive request
    // costs one recv and no FIONREAD.
    if (c.cbuf.size() == 0) {
      Idle::Waiter waiter;
      waiter.sock = &client.socket();
      waiter.since = Clock::now();
      waiter.limit = limit;
      waiter.parkable = !client.tls();
      w.idle.wait_begin(waiter);
      auto [rerr, n] = co_await client.async_read_some(c.cbuf.prepare(8192), nothrow);
      w.idle.wait_end(waiter);
      if (n == 0) {
        if (waiter.outcome == Idle::Waiter::Outcome::park && !sh.draining) {
          // Hand the descriptor and the flow to the parked set; this coroutine, its buffers and
          // Asio's state for the socket are freed when it returns.
          w.idle.park(client.socket(), {c.peer, c.trusted, !c.first, c.flow.release(), waiter.since + waiter.limit});
          co_return;
        }
        goto close;
      }
      c.cbuf.commit(n);  // a request came, even if a timeout or the drain was about to end the wait
      client.expires_after(o.header_timeout);
    }
    {
      struct Done {  // the exchange ends with the request, however it ends
        std::optional<Exchange>& x;
        ~Done() { x.reset(); }
      } done{c.exchange};
      Exchange& x = c.exchange.emplace(c.plan);
      RequestParser& req_p = x.req_p;
      req_p.header_limit(kMaxHead);
      req_p.body_limit(boost::none);  // bodies stream through; no size is buffered
      // The raw head first, to refuse what a parser would quietly repair; then Beast parses it
      // from the same buffer.
      auto [ec, n, problem] = co_await read_raw_head(client, cbuf);
      if (problem) {
        // Not HTTP/1.x, or what a parser would quietly repair: answered at once, then closed.
        const ProxyError err{problem.status, "http_request_error", "malformed request: " + problem.what};
        co_await send_error(client, err, false, 11);
        log_line(sh, peer, false, err.status, 0, "", first && cbuf.size() && static_cast<const char*>(cbuf.data().data())[0] == 0x16 ? "tls_to_plain_port@header" : "bad_request@header");
        goto close;
      }
      if (!ec) {
        // The whole head is buffered: parse it here, with no I/O round trip.
        const size_t used = req_p.put(asio::buffer(cbuf.data().data(), n), ec);
        cbuf.consume(used);
        if (!ec && !req_p.is_header_done()) ec = bhttp::error::partial_message;
      }
      const auto start = Clock::now();
      if (ec) {
        // The client left, or went quiet (between requests, or mid-head as a slowloris): close.
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset) goto close;
        // Named, not a braced temporary in the co_await: g++ 12 destroys such temporaries twice.
        const ProxyError err = ec == bhttp::error::header_limit ? ProxyError{431, "http_request_error", "request header block over 64 KiB"}
                                                                : ProxyError{400, "http_request_error", "malformed request: " + ec.message()};
        co_await send_error(client, err, false, 11);
        log_line(sh, peer, false, err.status, 0, "", err.status == 431 ? "header_too_large@header" : "bad_request@header");
        goto close;
      }
      first = false;
      auto& req = req_p.get();
      if (std::distance(req.begin(), req.end()) > 100) {
        const ProxyError err{431, "http_request_error", "more than 100 header fields"};
        co_await send_error(client, err, false, req.version());
        log_line(sh, peer, false, 431, 0, "", "too_many_fields@header");
        goto close;
      }
      if (auto refusal = http::normalize_request(req)) {
        const ProxyError err{refusal->status, "http_request_error", refusal->details};
        co_await send_error(client, err, false, req.version());
        log_line(sh, peer, false, err.status, 0, "", refusal->cause + "@header");
        goto close;
      }
      if (http::via_names(req, sh.via_by)) {
        // This request has been through this very process: --to points back at the proxy
        // (directly or through other proxies). Answered here at the first repeat.
        const ProxyError err{508, "proxy_loop_detected", "the request has already passed through this proxy (" + sh.via_by + ")"};
        co_await send_error(client, err, false, req.version());
        log_line(sh, peer, false, err.status, 0, "", "loop@header");
        goto close;
      }
      const bool client_keep = req.keep_alive() && !sh.draining;
      const std::string& method = c.method.assign(req.method_string());
      const std::string& target = c.target.assign(req.target());
      const std::string& agent = c.agent.assign(req[bhttp::field::user_agent]);
      const bool head_request = req.method() == bhttp::verb::head;
      const bool has_body = req_p.content_length().value_or(0) > 0 || req_p.chunked();
      if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
        // Answered here, as nginx does: the client sends its body at once, the backend never
        // waits on an expectation the proxy would have to relay mid-request.
        req.erase(bhttp::field::expect);
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        client.expires_after(o.idle_timeout);
        auto [cec, cn] = co_await asio::async_write(client, asio::buffer(kContinue), nothrow);
        if (cec) goto close;
      }
      // An Upgrade the client asks for (WebSocket, h2c, ...) is passed on; after a 101 the
      // connection becomes a byte tunnel.
      const bool upgrade = req.count(bhttp::field::upgrade) > 0 && beast::http::token_list(req[bhttp::field::connection]).exists("upgrade");
      const std::string upgrade_to(upgrade ? req[bhttp::field::upgrade] : beast::string_view());
      http::strip_hop_by_hop(req, upgrade);
      http::add_forwarding(req, {peer, trusted, client.tls() ? "https" : "http", sh.via});
      for (const auto& [name, value] : o.request_headers) req.set(name, value);
      if (upgrade) req.set(bhttp::field::connection, "upgrade");
      else req.keep_alive(true);

      // A backend: the balancer's pick, then the others while connects are refused.
      Pick& pick = x.pick;
      sh.backends.plan(peer, pick.plan);
      co_await pick_next(sh, pool, pick);
      std::unique_ptr<Upstream>& up = pick.up;
      Backend*& backend = pick.backend;
      const size_t& backend_index = pick.index;
      bool& reused = pick.reused;
      const ProxyError& failure = pick.failure;
      const double connect_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      auto log = [&](unsigned status, uint64_t bytes, const std::string& cause, double first_byte_ms) {
        const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        sh.metrics.request(backend ? int(backend_index) : -1, status, total_ms / 1000);
        if (!sh.log.on()) return;
        sh.log.write({.client = peer, .method = method, .target = target, .version = req.version(), .status = status, .bytes = bytes,
                      .user_agent = agent, .backend = backend ? std::string_view(backend->name) : std::string_view(), .connect_ms = connect_ms,
                      .first_byte_ms = first_byte_ms, .total_ms = total_ms, .cause = cause});
      };
      if (!up) {
        if (pick.plan.empty()) pick.failure.detail = "no healthy backend: no backend name resolves";
        co_await send_error(client, failure, client_keep && !has_body, req.version());
        log(failure.status, 0, std::string(failure.error) + "@connect", 0);
        if (client_keep && !has_body) goto next;
        goto close;
      }
      set_backend(flow, *up);
      struct Active {  // the backend's in-flight count follows the request (and its retries)
        Backend* b = nullptr;
        void set(Backend* n) {
          if (b) --b->active;
          if ((b = n)) ++b->active;
        }
        ~Active() { set(nullptr); }
      } active;
      active.set(backend);
      // GET, HEAD and the like without a body may be sent again elsewhere when a backend dies
      // before any response byte (nginx's proxy_next_upstream error): the client never sees the
      // failure. Never a POST, never a request with a body.
      const bool idempotent = !has_body && (req.method() == bhttp::verb::get || req.method() == bhttp::verb::head ||
                                            req.method() == bhttp::verb::options || req.method() == bhttp::verb::trace ||
                                            req.method() == bhttp::verb::put || req.method() == bhttp::verb::delete_);

      uint64_t req_bytes = 0;
      ResponseParser& res_p = x.res_p;
      beast::error_code ec_head;
      bool failure_counted = false;
      for (int attempt = 0;; ++attempt) {
      const Relayed sent = co_await relay_message(client, cbuf, req_p, up->stream, o.idle_timeout, req_bytes, copy_buf, c.head);
      const beast::error_code ec_req = sent.ec;
      if (sent.malformed()) {
        // A body that breaks its own framing (a chunk size that is not hex, or too large): the
        // request's fault. The backend connection, maybe holding part of it, goes (never pooled).
        const ProxyError err{400, "http_request_error", "malformed request body: " + ec_req.message()};
        co_await send_error(client, err, false, req.version());
        log(400, req_bytes, sent.head_sent ? "bad_body@request_body" : "bad_body@header", 0);
        goto close;
      }
      if (ec_req && sent.reading_failed) {
        // The client went away or stalled mid-body: nothing to answer, nobody else to blame.
        log(0, req_bytes, "client_" + std::string(ec_req == beast::error::timeout ? "idle" : "aborted") + "@request_body", 0);
        goto close;
      }
      if (attempt > 0) {
        res_p.~ResponseParser();
        new (&res_p) ResponseParser();
      }
      res_p.body_limit(boost::none);
      res_p.header_limit(kMaxHead);
      if (head_request) res_p.skip(true);
      ec_head = ec_req;
      if (!ec_req) {
        up->stream.expires_after(o.backend_timeout);
        auto [e, m] = co_await bhttp::async_read_header(up->stream, up->buffer, res_p, nothrow);
        ec_head = e;
        // Interim responses (100, 103) are not the answer: drop them and read on, or the final
        // response would stay in the buffer and reach the next user of this connection.
        while (!ec_head && res_p.get().result_int() >= 100 && res_p.get().result_int() < 200 &&
               res_p.get().result() != bhttp::status::switching_protocols) {
          res_p.~ResponseParser();  // a parser reads one message: start afresh
          new (&res_p) ResponseParser();
          res_p.body_limit(boost::none);
          res_p.header_limit(kMaxHead);
          if (head_request) res_p.skip(true);
          auto [e2, m2] = co_await bhttp::async_read_header(up->stream, up->buffer, res_p, nothrow);
          ec_head = e2;
        }
      }
      const bool no_response = ec_head == bhttp::error::end_of_stream || ec_head == asio::error::connection_reset ||
                               ec_head == asio::error::eof || ec_head == asio::error::broken_pipe;
      if (!no_response || attempt >= int(pick.plan.size()) + 1) break;
      if (reused && !has_body) {
        // A pooled connection the backend had closed meanwhile: a bodiless request is sent once
        // more on a fresh connection to the same backend (it never reached the app).
        auto fresh = co_await connect_backend(sh, *backend);
        if (fresh.first) {
          up = std::move(fresh.first);
          reused = false;
          set_backend(flow, *up);
          continue;
        }
      }
      if (!idempotent) break;
      // The backend died under the request: count it, and go on to the next one in the plan.
      // With none left, the client hears about this backend's failure.
      if (!reused) sh.backends.failed(*backend, "connection_terminated");
      failure_counted = true;
      Backend* const dead = backend;
      co_await pick_next(sh, pool, pick);
      if (!up) {
        backend = dead;
        break;
      }
      failure_counted = false;
      active.set(backend);
      set_backend(flow, *up);
      }
      const double first_byte_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (ec_head) {
        ProxyError err;
        if (ec_head == beast::error::timeout) err = {504, "http_response_timeout", backend->name + " sent no response within " + format_duration(o.backend_timeout)};
        else if (ec_head == bhttp::error::end_of_stream || ec_head == asio::error::connection_reset || ec_head == asio::error::eof)
          err = {502, "connection_terminated", backend->name + " closed the connection without a response"};
        else err = {502, "http_protocol_error", backend->name + ": " + ec_head.message()};
        if (!reused && !failure_counted) sh.backends.failed(*backend, err.error);
        co_await send_error(client, err, false, req.version());
        log(err.status, 0, std::string(err.error) + "@response", first_byte_ms);
        goto close;
      }
      auto& res = res_p.get();
      if (res.result_int() >= 500) sh.backends.failed(*backend, "status_" + std::to_string(res.result_int()));
      else sh.backends.succeeded(*backend);
      // A body framed by the connection's close cannot be followed by another message.
      const bool close_framed = res_p.need_eof();
      const bool backend_keep = res.keep_alive() && !close_framed;
      const bool switching = upgrade && res.result() == bhttp::status::switching_protocols;
      http::strip_hop_by_hop(res, switching);
      for (const auto& [name, value] : o.response_headers) res.set(name, value);
      if (res.count(bhttp::field::via)) res.set(bhttp::field::via, std::string(res[bhttp::field::via]).append(", ").append(sh.via));
      else res.set(bhttp::field::via, sh.via);
      const bool keep = client_keep && !sh.draining && !close_framed;
      if (switching) {
        res.set(bhttp::field::connection, "upgrade");
        bhttp::response_serializer<bhttp::buffer_body, http::Fields> sr{res};
        client.expires_after(o.idle_timeout);
        auto [wec, wn] = co_await bhttp::async_write_header(client, sr, nothrow);
        log(101, 0, token("upgrade_" + upgrade_to), first_byte_ms);
        if (wec) goto close;
        // Bytes either side sent after the handshake may already sit in our buffers: pass them
        // on first, then tunnel.
        client.expires_never();
        up->stream.expires_never();
        if (cbuf.size()) co_await asio::async_write(up->stream, cbuf.data(), nothrow);
        if (up->buffer.size()) co_await asio::async_write(client, up->buffer.data(), nothrow);
        const RelayBytes moved = co_await edge::relay(client, up->stream, o.idle_timeout);
        count_bytes(sh, flow, moved.a_to_b, moved.b_to_a);
        goto close;
      }
      // An intermediary speaks its own version (RFC 9110 6.2): HTTP/1.1, whatever the backend's.
      res.version(11);
      res.keep_alive(keep);
      // An HTTP/1.0 client keeps the connection only when told so in words (the backend's own
      // Connection header went with the hop-by-hop ones).
      if (keep && req.version() == 10) res.set(bhttp::field::connection, "keep-alive");
      uint64_t res_bytes = 0;
      const Relayed got = co_await relay_message(up->stream, up->buffer, res_p, client, o.idle_timeout, res_bytes, copy_buf, c.head);
      const beast::error_code ec_res = got.ec;
      count_bytes(sh, flow, req_bytes, res_bytes);
      log(res.result_int(), res_bytes, ec_res ? token("relay_" + ec_res.message()) + "@body" : std::string(keep ? "keepalive" : "closed"), first_byte_ms);
      if (!ec_res && backend_keep && got.complete && up->buffer.size() == 0) pool.put(backend_index, *backend, std::move(up));
      if (ec_res || !keep) {
        client.socket().shutdown(tcp::socket::shutdown_send, ec0);
        goto close;
      }
      goto next;
    }
  next:;
  }
close:
  co_await tls_goodbye(client);
}

// Serves a client connection request after request. `parked` is set when the connection
// comes back from the parked set (it was idle, and has bytes to read again).
asio::awaitable<void> http_session(tcp::socket sock, Shared& sh, Worker& w, std::optional<Idle::Parked> parked) {
  ConnCount count(sh.conns, parked.has_value());
  const Options& o = sh.o;
  beast::error_code ec0;
  std::optional<ClientConn> conn;
  if (parked) {
    conn.emplace(sh, w.pool, *parked, std::move(sock));
  } else {
    const IpAddr peer = to_ipaddr(sock.remote_endpoint(ec0).address());
    conn.emplace(sh, w.pool, peer, trusted_peer(o, peer), std::move(sock));
  }
  ClientConn& c = *conn;
  Stream& client = c.client;
  if (sh.server_tls.ctx && !co_await tls_accept(sh, client, c.peer)) co_return;
  co_await serve_connection(c, w);
}

// Every 20 ms: this thread's stream deadlines, timeouts and parking for its waiting
// connections; every 500 ms the parked ones' deadlines. After a burst of parking, freed memory
// goes back to the system (the coroutines of thousands of connections that arrived together
// would otherwise stay resident).
asio::awaitable<void> sweeper(Worker& w) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  size_t parked_since_trim = 0;
  for (unsigned tick = 0;; ++tick) {
    timer.expires_after(Deadlines::kSweepEvery);
    auto [ec] = co_await timer.async_wait(nothrow);
    if (ec) co_return;
    const auto now = Clock::now();
    w.deadlines.sweep(now);
    const size_t parking = w.idle.sweep_waiters(now);
    parked_since_trim += parking;
    if (tick % 25 == 0) w.idle.expire_parked(now);
    if (parked_since_trim >= 1024 || (parking == 0 && parked_since_trim >= 64)) {
      malloc_trim(64 * 1024);
      parked_since_trim = 0;
    }
  }
}

// Parked connections that become readable go back to a session of their own.
asio::awaitable<void> parked_watcher(Shared& sh, Worker& w) {
  auto ex = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor ep(ex, ::dup(w.idle.epoll_fd()));
  while (true) {
    auto [ec] = co_await ep.async_wait(asio::posix::stream_descriptor::wait_read, nothrow);
    if (ec) co_return;
    for (auto& [fd, p] : w.idle.take_ready()) {
      sockaddr_storage local{};
      socklen_t len = sizeof local;
      beast::error_code aec;
      tcp::socket s(ex);
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0)
        s.assign(local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, aec);
      if (!s.is_open()) {
        ::close(fd);
        sh.flows.remove(p.flow);
        --sh.conns;
        continue;
      }
      asio::co_spawn(ex, http_session(std::move(s), sh, w, p), asio::detached);
    }
  }
}

// TCP mode: one backend connection per client connection, relayed by core/net/relay (splice).
asio::awaitable<void> tcp_session(tcp::socket sock, Shared& sh) {
  ConnCount count(sh.conns);
  beast::error_code ec0;
  const IpAddr peer = to_ipaddr(sock.remote_endpoint(ec0).address());
  Stream client(std::move(sock));
  if (sh.server_tls.ctx && !co_await tls_accept(sh, client, peer)) co_return;
  client.expires_never();
  std::unique_ptr<Upstream> up;
  Backend* backend = nullptr;
  std::vector<size_t> plan;
  sh.backends.plan(peer, plan);
  for (size_t i : plan) {
    auto connected = co_await connect_backend(sh, sh.backends.at(i));
    if (connected.first) {
      up = std::move(connected.first);
      backend = &sh.backends.at(i);
      sh.backends.succeeded(*backend);
      break;
    }
    sh.backends.failed(sh.backends.at(i), connected.second.error);
  }
  if (!up) co_return;  // no backend: the client sees the connection close
  FlowHandle flow(sh.flows, client_flow(client.socket(), sh.o));
  set_backend(flow, *up);
  ++backend->active;
  const RelayBytes moved = co_await edge::relay(client, up->stream, sh.o.idle_timeout);
  co_await tls_goodbye(client);
  count_bytes(sh, flow, moved.a_to_b, moved.b_to_a);
  log_line(sh, peer, true, 0, moved.b_to_a, backend->name, "closed");
  --backend->active;
  client.socket().close(ec0);
}

// One active check of one backend: a TCP connect (tcp mode), or GET --health answered 2xx/3xx.
asio::awaitable<bool> check_backend(Shared& sh, Backend& b) {
  auto connected = co_await connect_backend(sh, b);
  if (!connected.first) co_return false;
  if (sh.o.mode == Mode::tcp) co_return true;
  Upstream& up = *connected.first;
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, sh.o.health_path, 11};
  req.set(bhttp::field::host, b.host);
  req.set(bhttp::field::user_agent, "edge-rproxy-health");
  req.keep_alive(false);
  up.stream.expires_after(sh.o.connect_timeout + sh.o.connect_timeout);
  auto [wec, wn] = co_await bhttp::async_write(up.stream, req, nothrow);
  if (wec) co_return false;
  bhttp::response_parser<bhttp::empty_body> res;
  res.skip(true);
  auto [rec, rn] = co_await bhttp::async_read_header(up.stream, up.buffer, res, nothrow);
  co_return !rec && res.get().result_int() >= 200 && res.get().result_int() < 400;
}

// Every --health-interval: backend names are resolved again, and with --health each backend is
// checked; a failed check takes it out of the pool until a check passes.
asio::awaitable<void> health_loop(Shared& sh) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!sh.draining) {
    if (!sh.o.health_path.empty()) {
      for (size_t i = 0; i < sh.backends.size(); ++i) {
        Backend& b = sh.backends.at(i);
        const bool ok = co_await check_backend(sh, b);
        if (ok != b.check_ok.exchange(ok))
          std::fprintf(stderr, "edge: backend %s is %s (health check)\n", b.name.c_str(), ok ? "up again" : "down");
      }
    }
    timer.expires_after(sh.o.health_interval);
    co_await timer.async_wait(nothrow);
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acc, Shared& sh, Worker& w) {
  while (true) {
    auto [ec, sock] = co_await acc.async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
    if (ec) {
      // Out of descriptors (EMFILE/ENFILE) and the like: back off instead of spinning.
      asio::steady_timer pause(acc.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (sh.conns >= sh.o.max_conns) continue;  // sock closes here: over --max-conns
    sh.metrics.connection();
    sock.set_option(tcp::no_delay(true), ec);
    if (sh.o.mode == Mode::tcp) {
      asio::co_spawn(acc.get_executor(), tcp_session(std::move(sock), sh), asio::detached);
    } else if (sock.available(ec) == 0 && !ec) {
      // Nothing sent yet: the connection waits parked, without a coroutine or a buffer,
      // until its first bytes arrive (or --header-timeout passes).
      const IpAddr peer = to_ipaddr(sock.remote_endpoint(ec).address());
      w.idle.park(sock, {peer, trusted_peer(sh.o, peer), false, sh.flows.add(client_flow(sock, sh.o)), Clock::now() + sh.o.header_timeout});
    } else {
      asio::co_spawn(acc.get_executor(), http_session(std::move(sock), sh, w, std::nullopt), asio::detached);
    }
  }
}

// --metrics: GET /metrics answers Prometheus text; one request per connection.
asio::awaitable<void> metrics_session(tcp::socket sock, Shared& sh) {
  beast::tcp_stream s(std::move(sock));
  beast::flat_buffer buf;
  bhttp::request<bhttp::empty_body> req;
  s.expires_after(std::chrono::seconds(10));
  auto [ec, n] = co_await bhttp::async_read(s, buf, req, nothrow);
  if (ec) co_return;
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::server, "edge");
  const std::string_view path = req.target().substr(0, req.target().find('?'));
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    res.result(bhttp::status::method_not_allowed);
    res.set(bhttp::field::allow, "GET, HEAD");
  } else if (path != "/metrics") {
    res.result(bhttp::status::not_found);
    res.body() = "edge rproxy serves its metrics at /metrics\n";
  } else {
    std::vector<BackendView> views;
    for (size_t i = 0; i < sh.backends.size(); ++i) {
      Backend& b = sh.backends.at(i);
      views.push_back({b.name, sh.backends.healthy(b), b.active.load(), b.ejections.load(), b.recoveries.load()});
    }
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = sh.metrics.text(views, sh.conns);
  }
  res.keep_alive(false);
  res.prepare_payload();
  if (req.method() == bhttp::verb::head) res.body().clear();
  co_await bhttp::async_write(s, res, nothrow);
  s.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> metrics_loop(tcp::acceptor& acc, Shared& sh) {
  while (true) {
    auto [ec, sock] = co_await acc.async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
    if (!ec) asio::co_spawn(acc.get_executor(), metrics_session(std::move(sock), sh), asio::detached);
  }
}

// Threads share the port through SO_REUSEPORT, which would let edge share it with any other
// program that set it too (and take half its connections). A socket bound first without it
// fails when anyone listens there: then edge refuses to start, naming the holder.
void check_port_free(const tcp::endpoint& ep, const std::string& flag, const std::string& shown) {
  tcp::acceptor probe(asio::system_executor{});
  beast::error_code ec;
  probe.open(ep.protocol(), ec);
  probe.set_option(tcp::acceptor::reuse_address(true), ec);
  probe.bind(ep, ec);
  if (ec == asio::error::address_in_use) {
    const std::string owner = port_owner(ep.port());
    throw Fatal(Exit::failed, flag + " " + shown + ": the address is already in use" + (owner.empty() ? "" : " by " + owner));
  }
}

// "0.0.0.0:28093", "[::1]:8080": where an acceptor really listens.
std::string endpoint_text(const tcp::acceptor& acc) {
  beast::error_code ec;
  const auto ep = acc.local_endpoint(ec);
  const std::string a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

// A listening socket on `where` (flag names it in errors); an empty host is `any_host`.
// `reuseport`: shared by this process's threads; the first of them checks nobody else holds it.
tcp::acceptor make_acceptor(asio::io_context& ctx, const Endpoint& where, const std::string& flag, const std::string& any_host, bool reuseport,
                            bool first = true) {
  const std::string host = where.host().empty() ? any_host : where.host();
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw usage_error(flag, where.str(), "needs an address literal for the host");
  tcp::endpoint ep(addr, where.port());
  if (reuseport && first) check_port_free(ep, flag, where.str());
  tcp::acceptor acc(ctx);
  acc.open(ep.protocol());
  acc.set_option(tcp::acceptor::reuse_address(true));
  int one = 1;
  if (reuseport) ::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);  // one listener per thread
  acc.bind(ep, ec);
  if (ec == asio::error::address_in_use) {
    const std::string owner = port_owner(ep.port());
    throw Fatal(Exit::failed, flag + " " + where.str() + ": the address is already in use" + (owner.empty() ? "" : " by " + owner));
  }
  if (ec) {
    if (ec == asio::error::access_denied) throw Fatal(Exit::privilege, flag + " " + where.str() + ": binding a port below 1024 needs root");
    throw Fatal(Exit::failed, flag + " " + where.str() + ": " + ec.message());
  }
  acc.listen(asio::socket_base::max_listen_connections);
  return acc;
}

}  // namespace

// The certificate names --tls-auto covers: the listen address (when one is given) and this
// machine's own names.
std::vector<std::string> auto_cert_names(const Options& o) {
  std::vector<std::string> names;
  const std::string h = o.listen.host();
  if (!h.empty() && h != "0.0.0.0" && h != "::") names.push_back(h);
  for (const char* n : {"localhost", "127.0.0.1", "::1"})
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0 && host[0] && std::find(names.begin(), names.end(), host) == names.end()) names.push_back(host);
  return names;
}

int run(const Options& o) {
  Shared sh(o);
  // TLS material first: a bad file ends the run before any socket is opened.
  if (o.tls_auto) {
    const auto names = auto_cert_names(o);
    sh.server_tls = tls::server_self_signed(names);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "edge rproxy: TLS with a self-signed certificate for %s\nedge rproxy: certificate SHA-256 fingerprint %s\n", list.c_str(),
                 sh.server_tls.fingerprint.c_str());
  } else if (!o.tls_cert.empty()) {
    sh.server_tls = tls::server_from_files(o.tls_cert, o.tls_key);
    std::fprintf(stderr, "edge rproxy: TLS certificate %s, SHA-256 fingerprint %s\n", sh.server_tls.subject.c_str(), sh.server_tls.fingerprint.c_str());
  }
  if (o.upstream_tls) sh.upstream_tls = tls::client(o.upstream_ca, !o.upstream_insecure);
  const unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  // Declared before the io_contexts: coroutine frames destroyed with them unlink their streams.
  std::vector<std::unique_ptr<Deadlines>> deadlines;
  for (unsigned i = 0; i < threads; ++i) deadlines.push_back(std::make_unique<Deadlines>());
  std::vector<std::unique_ptr<asio::io_context>> ctxs;
  std::vector<tcp::acceptor> acceptors;
  std::vector<std::unique_ptr<Worker>> workers_state;
  for (unsigned i = 0; i < threads; ++i) {
    ctxs.push_back(std::make_unique<asio::io_context>(1));
    acceptors.push_back(make_acceptor(*ctxs.back(), o.listen, "--listen", "0.0.0.0", true, i == 0));
    workers_state.push_back(std::make_unique<Worker>(sh, *deadlines[i]));
  }
  for (unsigned i = 0; i < threads; ++i) {
    asio::co_spawn(*ctxs[i], accept_loop(acceptors[i], sh, *workers_state[i]), asio::detached);
    asio::co_spawn(*ctxs[i], sweeper(*workers_state[i]), asio::detached);
    if (o.mode == Mode::http) asio::co_spawn(*ctxs[i], parked_watcher(sh, *workers_state[i]), asio::detached);
  }
  // Metrics on the first thread; a bare port means loopback only.
  std::optional<tcp::acceptor> metrics_acceptor;
  if (o.metrics) {
    metrics_acceptor.emplace(make_acceptor(*ctxs[0], *o.metrics, "--metrics", "127.0.0.1", false));
    asio::co_spawn(*ctxs[0], metrics_loop(*metrics_acceptor, sh), asio::detached);
  }
  asio::co_spawn(*ctxs[0], health_loop(sh), asio::detached);
  // Backend names are resolved again (at their TTL) on a thread of their own: resolution
  // blocks, and an I/O thread must not wait on a slow resolver.
  std::mutex resolver_mu;
  std::condition_variable resolver_cv;
  std::atomic<bool> resolver_stop{false};
  std::thread resolver([&] {
    std::unique_lock lk(resolver_mu);
    auto next = sh.backends.resolve_due(Clock::now(), resolver_stop);
    while (!resolver_cv.wait_until(lk, next, [&] { return resolver_stop.load(); })) {
      lk.unlock();
      next = sh.backends.resolve_due(Clock::now(), resolver_stop);
      lk.lock();
    }
  });
  struct StopResolver {
    std::mutex& mu;
    std::condition_variable& cv;
    std::atomic<bool>& stop;
    std::thread& t;
    ~StopResolver() {
      {
        std::lock_guard lk(mu);
        stop = true;
      }
      cv.notify_all();
      t.join();
    }
  } stop_resolver{resolver_mu, resolver_cv, resolver_stop, resolver};
  ControlServer control(sh.flows, "rproxy");
  if (!control.error().empty()) std::fprintf(stderr, "edge: no control socket (%s): edge conntrack will not see this proxy's flows\n", control.error().c_str());

  for (size_t i = 0; i < sh.backends.size(); ++i)
    if (sh.backends.at(i).addresses.load()->empty())
      std::fprintf(stderr, "edge: backend %s does not resolve: it counts as down\n", sh.backends.at(i).name.c_str());
  std::fprintf(stderr, "edge rproxy: listening on %s (%s%s), %zu backend(s)%s, %u thread(s)\n", endpoint_text(acceptors[0]).c_str(),
               o.mode == Mode::http ? "http" : "tcp", sh.server_tls.ctx ? " over TLS" : "", sh.backends.size(),
               sh.upstream_tls ? " over TLS" : "", threads);
  if (metrics_acceptor) {
    std::fprintf(stderr, "edge rproxy: metrics at http://%s/metrics\n", endpoint_text(*metrics_acceptor).c_str());
  }

  // SIGINT/SIGTERM: stop accepting, let in-flight requests finish (up to --drain), then stop.
  asio::signal_set signals(*ctxs[0], SIGINT, SIGTERM);
  asio::signal_set hup(*ctxs[0], SIGHUP);
  asio::steady_timer drain_timer(*ctxs[0]);
  const auto stop_all = [&] {
    for (auto& c : ctxs) c->stop();
  };
  std::function<void()> drain_check;  // re-armed every 50 ms while draining
  signals.async_wait([&](const beast::error_code& ec, int) {
    if (ec) return;
    sh.draining = true;
    hup.cancel();
    // Stop accepting; idle keepalive connections are closed at once (they have nothing in
    // flight), in-flight requests finish and close their connections.
    for (unsigned i = 0; i < threads; ++i)
      asio::post(*ctxs[i], [&acc = acceptors[i], &w = *workers_state[i]] {
        beast::error_code e;
        acc.close(e);
        w.idle.drain();
      });
    const auto deadline = Clock::now() + o.drain;
    std::fprintf(stderr, "edge rproxy: draining: no new connections; %u open, waiting up to %s for requests in flight\n", sh.conns.load(),
                 format_duration(o.drain).c_str());
    drain_check = [&, deadline] {
      if (sh.conns == 0 || Clock::now() >= deadline) {
        if (sh.conns) std::fprintf(stderr, "edge rproxy: drain time is up: closing %u connection(s) still open\n", sh.conns.load());
        else std::fprintf(stderr, "edge rproxy: drained: every connection closed; exiting\n");
        return stop_all();
      }
      drain_timer.expires_after(std::chrono::milliseconds(50));
      drain_timer.async_wait([&](const beast::error_code&) { drain_check(); });
    };
    drain_check();
  });

  std::function<void()> on_hup = [&] {
    hup.async_wait([&](const beast::error_code& ec, int) {
      if (ec) return;
      sh.log.reopen();
      on_hup();
    });
  };
  on_hup();

  std::vector<std::thread> workers;
  for (unsigned i = 1; i < threads; ++i)
    workers.emplace_back([&, i] {
      Deadlines::current() = deadlines[i].get();
      ctxs[i]->run();
    });
  Deadlines::current() = deadlines[0].get();
  ctxs[0]->run();
  stop_all();
  for (auto& w : workers) w.join();
  return 0;
}

}  // namespace edge::rproxy
