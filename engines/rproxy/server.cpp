// `edge rproxy`: the reverse proxy, a session handler on the core runtime (core/run/runtime.h:
// threads, listeners, parking, drain). A client connection is a coroutine while it is busy:
// read a request head (core/http/stream.h: bounded, strict framing), rewrite its headers, pick
// a backend (another one when a connect fails, or when a bodiless idempotent request's backend
// dies before answering), stream the body over, stream the response back, keep both
// connections alive when both ends allow it (core/net/upstream.h: the pool). Clients and
// backends may speak TLS. Failures become precise responses with Proxy-Status (RFC 9209): 502
// refused/reset/TLS, 504 timeout, 503 no backend resolves.
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "core/base/errors.h"
#include "core/flow/table.h"
#include "core/http/forwarding.h"
#include "core/http/request_rules.h"
#include "core/http/stream.h"
#include "core/net/relay.h"
#include "core/net/upstream.h"
#include "core/run/metrics_server.h"
#include "core/net/ready_batch.h"
#include "core/run/runtime.h"
#include "core/tls/accept.h"
#include "core/tls/contexts.h"
#include "engines/rproxy/access_log.h"
#include "engines/rproxy/backends.h"
#include "engines/rproxy/metrics.h"
#include "engines/rproxy/options.h"

namespace edge::rproxy {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;
using http::kMaxHead;
using http::RequestParser;
using http::ResponseParser;
using http::relay_message;
using http::read_raw_head;
using http::send_error;
using http::Relayed;

namespace {

struct Shared {
  const Options& o;
  BackendSet backends;
  AccessLog log;
  Metrics metrics;
  run::Runtime* rt = nullptr;  // set once the runtime has bound its listeners
  std::vector<std::unique_ptr<UpstreamPool>> pools;  // per worker thread, a slot per backend
  tls::ServerContext server_tls;                    // ctx null: clients speak plain HTTP/TCP
  std::unique_ptr<asio::ssl::context> upstream_tls;  // null: backends speak plain
  // This process's name in Via ("1.1 edge-3f9a2c1d"): unique, so a request that comes back
  // to the same proxy is recognised (508) while a chain of different edges is not.
  std::string via_by = http::via_token();
  std::string via = "1.1 " + via_by;
  Shared(const Options& opts) : o(opts), backends(opts), log(opts.access_log, opts.log_format), metrics(backends.size()) {}
};

// The record of what never became a proxied request (a refused head, a failed handshake, a
// TCP connection): logged, and counted when a response was sent.
void log_line(Shared& sh, const IpAddr& peer, bool tcp, unsigned status, uint64_t bytes, std::string_view backend, std::string_view cause) {
  if (!tcp && status) sh.metrics.request(-1, status, 0);
  if (sh.log.on()) sh.log.write({.client = peer, .tcp = tcp, .status = status, .bytes = bytes, .backend = backend, .cause = cause});
}

asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> connect_backend(Shared& sh, Backend& b) {
  const auto addresses = b.addresses.load();  // a snapshot: re-resolution may swap it meanwhile
  co_return co_await dial({.addresses = *addresses, .port = b.port, .name = b.name, .tls_host = b.host, .tls = sh.upstream_tls.get(),
                           .verify = !sh.o.upstream_insecure, .timeout = sh.o.connect_timeout});
}

// A backend connection goes back to the pool unless its backend's name no longer resolves to
// its address: the pool follows DNS as new connections do.
void keep_upstream(UpstreamPool& pool, size_t i, const Backend& b, std::unique_ptr<Upstream> u) {
  const auto addresses = b.addresses.load();
  if (std::find(addresses->begin(), addresses->end(), u->reply.src) != addresses->end()) pool.put(i, std::move(u));
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
asio::awaitable<void> pick_next(Shared& sh, UpstreamPool& pool, Pick& p) {
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
  UpstreamPool& pool;
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
  ClientConn(Shared& s, UpstreamPool& p, const IpAddr& a, bool t, tcp::socket sock)
      : sh(s), pool(p), peer(a), trusted(t), flow(s.rt->flows(), s.rt->client_flow(sock)), client(std::move(sock)) {}
  // A connection coming back from the parked set: its flow is already in the table.
  ClientConn(Shared& s, UpstreamPool& p, const run::Idle::Parked& parked, tcp::socket sock)
      : sh(s), pool(p), peer(parked.peer), trusted(parked.tag != 0), flow(s.rt->flows(), parked.flow, FlowHandle::Adopt{}), client(std::move(sock)),
        first(!parked.served) {}
};

bool trusted_peer(const Options& o, const IpAddr& peer) {
  return std::any_of(o.trust_proxy.begin(), o.trust_proxy.end(), [&](const Cidr& c) { return c.contains(peer); });
}

// The TLS handshake of a client connection (--tls-cert/--tls-auto), within --header-timeout;
// a failure is logged (a port scanner or a client that distrusts the certificate: one line).
asio::awaitable<bool> tls_accept(Shared& sh, Stream& client, const IpAddr& peer) {
  const tls::Accepted a = co_await tls::accept(client, *sh.server_tls.ctx, sh.o.header_timeout);
  if (a.ok) co_return true;
  if (a.plain_http) {
    log_line(sh, peer, false, 400, 0, "", "plain_http_to_tls_port@handshake");
  } else {
    sh.metrics.tls_failure();
    log_line(sh, peer, false, 0, 0, "", cause_token("tls_handshake_failed:" + a.why) + "@handshake");
  }
  co_return false;
}

// Serves the requests of a client connection until it closes (or is parked: it waits without
// a coroutine then). One coroutine per connection, not per request: a frame this large is
// beyond Asio's frame recycling, and would cost a malloc per request.
asio::awaitable<void> serve_connection(ClientConn& c, run::Worker& w) {
  Shared& sh = c.sh;
  UpstreamPool& pool = c.pool;
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
    if (c.cbuf.size() == 0) {
      const run::Waited waited = co_await run::wait_for_bytes(w, client, c.cbuf, c.first ? o.header_timeout : o.keepalive_timeout);
      if (waited.what == run::Waited::What::park) {
        // Hand the descriptor and the flow to the parked set; this coroutine, its buffers and
        // Asio's state for the socket are freed when it returns.
        w.idle.park(client.socket(), {c.peer, uint8_t(c.trusted), !c.first, c.flow.release(), waited.deadline});
        co_return;
      }
      if (waited.what == run::Waited::What::closed) goto close;
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
      const bool client_keep = req.keep_alive() && !sh.rt->draining();
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
      // Clock reads cost: the phases are timed only for the access log.
      const auto since_start = [&] { return sh.log.on() ? std::chrono::duration<double, std::milli>(Clock::now() - start).count() : 0.0; };
      const double connect_ms = since_start();
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
      run::set_upstream(flow, up->reply);
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
      co_await let_ready_run();
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
      http::reset(res_p, head_request);
      ec_head = ec_req;
      if (!ec_req) ec_head = co_await http::read_response_head(up->stream, up->buffer, res_p, head_request, o.backend_timeout);
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
          run::set_upstream(flow, up->reply);
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
      run::set_upstream(flow, up->reply);
      }
      const double first_byte_ms = since_start();
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
      if (const auto via = res.find(bhttp::field::via); via != res.end()) res.set(bhttp::field::via, std::string(via->value()).append(", ").append(sh.via));
      else res.insert(bhttp::field::via, sh.via);
      const bool keep = client_keep && !sh.rt->draining() && !close_framed;
      if (switching) {
        res.set(bhttp::field::connection, "upgrade");
        bhttp::response_serializer<bhttp::buffer_body, http::Fields> sr{res};
        client.expires_after(o.idle_timeout);
        auto [wec, wn] = co_await bhttp::async_write_header(client, sr, nothrow);
        log(101, 0, cause_token("upgrade_" + upgrade_to), first_byte_ms);
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
      co_await let_ready_run();  // the responses of one wake-up leave together too
      const Relayed got = co_await relay_message(up->stream, up->buffer, res_p, client, o.idle_timeout, res_bytes, copy_buf, c.head);
      const beast::error_code ec_res = got.ec;
      count_bytes(sh, flow, req_bytes, res_bytes);
      log(res.result_int(), res_bytes, ec_res ? cause_token("relay_" + ec_res.message()) + "@body" : std::string(keep ? "keepalive" : "closed"), first_byte_ms);
      if (!ec_res && backend_keep && got.complete && up->buffer.size() == 0) keep_upstream(pool, backend_index, *backend, std::move(up));
      if (ec_res || !keep) {
        client.socket().shutdown(tcp::socket::shutdown_send, ec0);
        goto close;
      }
      goto next;
    }
  next:;
  }
close:
  co_await tls::goodbye(client);
}

// Serves a client connection request after request. `parked` is set when the connection
// comes back from the parked set (it was idle, and has bytes to read again).
asio::awaitable<void> http_session(tcp::socket sock, Shared& sh, run::Worker& w, std::optional<run::Idle::Parked> parked) {
  run::ConnCount count(sh.rt->conns(), parked.has_value());
  UpstreamPool& pool = *sh.pools[w.index];
  beast::error_code ec0;
  std::optional<ClientConn> conn;
  if (parked) {
    conn.emplace(sh, pool, *parked, std::move(sock));
  } else {
    const IpAddr peer = to_ipaddr(sock.remote_endpoint(ec0).address());
    conn.emplace(sh, pool, peer, trusted_peer(sh.o, peer), std::move(sock));
  }
  ClientConn& c = *conn;
  if (sh.server_tls.ctx && !co_await tls_accept(sh, c.client, c.peer)) co_return;
  co_await serve_connection(c, w);
}

// TCP mode: one backend connection per client connection, relayed by core/net/relay (splice).
asio::awaitable<void> tcp_session(tcp::socket sock, Shared& sh) {
  run::ConnCount count(sh.rt->conns());
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
  FlowHandle flow(sh.rt->flows(), sh.rt->client_flow(client.socket()));
  run::set_upstream(flow, up->reply);
  ++backend->active;
  const RelayBytes moved = co_await edge::relay(client, up->stream, sh.o.idle_timeout);
  co_await tls::goodbye(client);
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
  while (!sh.rt->draining()) {
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

// What a scrape shows (--metrics): the counters and each backend's state now.
std::string metrics_text(Shared& sh) {
  std::vector<BackendView> views;
  for (size_t i = 0; i < sh.backends.size(); ++i) {
    Backend& b = sh.backends.at(i);
    views.push_back({b.name, sh.backends.healthy(b), b.active.load(), b.ejections.load(), b.recoveries.load()});
  }
  return sh.metrics.text(views, sh.rt->conns());
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

namespace {
// The reverse proxy as a session handler of the core runtime.
class Service : public run::Handler {
 public:
  explicit Service(Shared& sh) : sh_(sh) {}
  void start(tcp::socket s, run::Worker& w, std::optional<run::Idle::Parked> parked) override {
    if (sh_.o.mode == Mode::tcp) asio::co_spawn(w.ctx, tcp_session(std::move(s), sh_), asio::detached);
    else asio::co_spawn(w.ctx, http_session(std::move(s), sh_, w, parked), asio::detached);
  }
  uint8_t tag_for(const IpAddr& peer) override { return trusted_peer(sh_.o, peer); }
  void accepted() override { sh_.metrics.connection(); }
  void reopen_logs() override { sh_.log.reopen(); }

 private:
  Shared& sh_;
};
}  // namespace

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
  Service service(sh);
  run::Runtime rt({.command = "rproxy", .listen = o.listen, .threads = o.threads, .max_conns = o.max_conns, .header_timeout = o.header_timeout,
                   .idle_timeout = o.idle_timeout, .drain = o.drain, .park_fresh = o.mode == Mode::http},
                  service);
  sh.rt = &rt;
  for (unsigned i = 0; i < rt.threads(); ++i) sh.pools.push_back(std::make_unique<UpstreamPool>(o.keepalive));
  // The idle upstream connections go before the runtime does: their sockets belong to its
  // io_contexts and their deadlines to its lists.
  struct ClosePools {
    Shared& sh;
    ~ClosePools() { sh.pools.clear(); }
  } close_pools{sh};
  // Metrics on the first thread; a bare port means loopback only.
  std::optional<tcp::acceptor> metrics_acceptor;
  if (o.metrics) {
    metrics_acceptor.emplace(run::listen_on(rt.main(), *o.metrics, "--metrics", "127.0.0.1", false, false));
    asio::co_spawn(rt.main(), run::serve_metrics(*metrics_acceptor, [&sh] { return metrics_text(sh); }, "rproxy"), asio::detached);
  }
  asio::co_spawn(rt.main(), health_loop(sh), asio::detached);
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

  for (size_t i = 0; i < sh.backends.size(); ++i)
    if (sh.backends.at(i).addresses.load()->empty())
      std::fprintf(stderr, "edge: backend %s does not resolve: it counts as down\n", sh.backends.at(i).name.c_str());
  std::fprintf(stderr, "edge rproxy: listening on %s (%s%s), %zu backend(s)%s, %u thread(s)\n", rt.listen_text().c_str(),
               o.mode == Mode::http ? "http" : "tcp", sh.server_tls.ctx ? " over TLS" : "", sh.backends.size(),
               sh.upstream_tls ? " over TLS" : "", rt.threads());
  if (metrics_acceptor) std::fprintf(stderr, "edge rproxy: metrics at http://%s/metrics\n", run::endpoint_text(*metrics_acceptor).c_str());
  return rt.run();
}

}  // namespace edge::rproxy
