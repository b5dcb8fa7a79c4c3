// `edge proxy`: the forward proxy, a session handler on the core runtime (core/run/runtime.h).
// One port speaks HTTP and SOCKS5, told apart by the first byte. HTTP: absolute-form requests
// are passed on with keepalive to both sides (core/http/stream.h streams the bodies, the
// origin connections are pooled per destination and thread), CONNECT opens a tunnel; SOCKS5
// CONNECT opens the same tunnel (core/net/relay.h, splice). Every destination goes through the
// egress policy (core/policy/egress.h) twice: its name and port first, then each address it
// resolves to; the connection goes to an address that was judged, with no second lookup.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cstdio>
#include <random>
#include <unordered_map>

#include "core/base/errors.h"
#include "core/flow/table.h"
#include "core/http/forwarding.h"
#include "core/http/request_rules.h"
#include "core/http/stream.h"
#include "core/net/relay.h"
#include "core/net/resolve.h"
#include "core/net/upstream.h"
#include "core/run/metrics_server.h"
#include "core/net/ready_batch.h"
#include "core/run/runtime.h"
#include "core/socks/socks5.h"
#include "core/tls/accept.h"
#include "engines/proxy/access_log.h"
#include "engines/proxy/auth.h"
#include "engines/proxy/options.h"
#include "engines/proxy/parent.h"

namespace edge::proxy {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Names resolved lately, shared by the threads: a page's many requests to one host cost one
// lookup. Entries live for the answer's TTL (30 s when DNS gave none, at most 5 min).
class DnsCache {
 public:
  std::optional<std::vector<IpAddr>> get(const std::string& host) {
    std::lock_guard lk(mu_);
    auto it = map_.find(host);
    if (it == map_.end() || Clock::now() >= it->second.second) return std::nullopt;
    return it->second.first;
  }
  void put(const std::string& host, const Resolution& r) {
    if (r.addresses.empty()) return;
    const auto ttl = std::clamp(r.ttl.value_or(std::chrono::seconds(30)), std::chrono::seconds(1), std::chrono::seconds(300));
    std::lock_guard lk(mu_);
    if (map_.size() > 10000) map_.clear();
    map_[host] = {r.addresses, Clock::now() + ttl};
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::pair<std::vector<IpAddr>, Clock::time_point>> map_;
};

// One thread's idle origin connections, a pool slot per destination ("host:port").
struct ThreadState {
  UpstreamPool pool;
  std::unordered_map<std::string, size_t> slots;
  explicit ThreadState(unsigned keep) : pool(keep) {}
  size_t slot(const std::string& key) {
    if (slots.size() >= 4096 && !slots.count(key)) {  // many destinations: start over
      slots.clear();
      pool = UpstreamPool(pool.keep());
    }
    return slots.emplace(key, slots.size()).first->second;
  }
};

struct Shared {
  const Options& o;
  policy::Egress egress;
  Credentials creds;
  Metrics metrics;
  AccessLog log;
  run::Runtime* rt = nullptr;
  std::vector<std::unique_ptr<ThreadState>> threads;
  std::string via_by = http::via_token();  // unique per process: a loop is recognised, a chain of edges is not one
  std::string via = "1.1 " + via_by;
  DnsCache dns;
  asio::thread_pool resolvers{2};  // lookups block: never on an I/O thread
  std::optional<Parent> parent;    // --parent
  Shared(const Options& opts, policy::Egress e, Credentials c) : o(opts), egress(std::move(e)), creds(std::move(c)), log(opts.access_log, opts.log_format, metrics) {}
};

// The 403 of a rule: Proxy-Status names the rule; the body says what matched and which flag
// would allow it.
ProxyError denial_error(const policy::Denial& d) {
  const bool address_rule = d.rule == "loopback" || d.rule == "unspecified" || d.rule == "metadata" || d.rule == "link-local" ||
                            d.rule == "private" || d.rule == "deny-dst" || d.rule == "multicast";
  return {403, address_rule ? "destination_ip_prohibited" : "http_request_denied",
          "denied by rule '" + std::string(d.rule) + "': " + d.detail + (d.hint.empty() ? "" : " (to allow it: " + d.hint + ")")};
}

// Where a request may go: the policy's verdict on the name and port, then on every address
// the name resolves to (an address literal, in any spelling, is judged as itself).
struct Destination {
  std::vector<IpAddr> addresses;         // allowed: dial these, in order
  std::optional<policy::Denial> denial;  // or the rule that denies it
  ProxyError failure;                    // or why it could not be resolved
};

asio::awaitable<Destination> reach(Shared& sh, const std::string& host, uint16_t port, policy::Kind kind) {
  Destination d;
  if ((d.denial = sh.egress.check_name(host, port, kind))) co_return d;
  std::vector<IpAddr> found;
  if (auto literal = policy::parse_any_address(host)) {
    found.push_back(*literal);
  } else if (auto cached = sh.dns.get(host)) {
    found = std::move(*cached);
  } else {
    const Millis timeout = sh.o.connect_timeout;
    // (The operation is made in a statement of its own: g++ 12 destroys the temporaries of a
    // co_await expression twice.)
    auto lookup = asio::co_spawn(sh.resolvers, [host, timeout]() -> asio::awaitable<Resolution> { co_return resolve_host(host, timeout); },
                                 asio::use_awaitable);
    Resolution r = co_await std::move(lookup);
    sh.dns.put(host, r);
    found = std::move(r.addresses);
  }
  if (found.empty()) {
    d.failure = {502, "dns_error", host + " did not resolve"};
    co_return d;
  }
  auto verdict = sh.egress.check_addresses(host, found);
  d.addresses = std::move(verdict.allowed);
  if (d.addresses.empty()) d.denial = std::move(verdict.denial);
  co_return d;
}

// Why a destination cannot be reached: the refusal's error, its log cause and the rule (empty
// when no rule denied it, e.g. a name that did not resolve). False when it can be reached.
bool refused(const Destination& d, ProxyError& err, std::string& cause, std::string_view& rule) {
  if (d.denial) {
    err = denial_error(*d.denial);
    cause = "denied@" + std::string(d.denial->rule);
    rule = d.denial->rule;
    return true;
  }
  if (d.addresses.empty()) {
    err = d.failure;
    cause = std::string(d.failure.error) + "@resolve";
    return true;
  }
  return false;
}

std::string host_port(std::string_view host, uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

std::string endpoint_of(const Upstream& up) { return host_port(up.reply.src.str(), up.reply.sport); }

void count_bytes(FlowHandle& flow, uint64_t up, uint64_t down) {
  flow.update([&](Flow& f) {
    f.orig_counters->bytes += up;
    f.reply_counters->bytes += down;
  });
}

// One client connection.
struct Conn {
  Shared& sh;
  ThreadState& ts;
  IpAddr peer;
  FlowHandle flow;
  Stream client;
  beast::flat_buffer cbuf{http::kMaxHead + 16 * 1024};
  std::vector<char> copy_buf;
  std::string head;
  bool first = true;
  bool source_ok = false;  // loopback or --allow-src: no password needed to pass the source rule
  Conn(Shared& s, ThreadState& t, const IpAddr& a, tcp::socket sock)
      : sh(s), ts(t), peer(a), flow(s.rt->flows(), s.rt->client_flow(sock)), client(std::move(sock)) {}
  Conn(Shared& s, ThreadState& t, const run::Idle::Parked& p, tcp::socket sock)
      : sh(s), ts(t), peer(p.peer), flow(s.rt->flows(), p.flow, FlowHandle::Adopt{}), client(std::move(sock)), first(!p.served) {}
};

// Who is asking: the user a Proxy-Authorization names, when it checks out.
struct Asker {
  std::string user;
  bool authenticated = false;
};

// A tunnel to an allowed destination: dialed, then bytes both ways until both ends close.
struct Tunnel {
  std::unique_ptr<Upstream> up;
  ProxyError failure;
};

// Through the parent when one applies to `host` (the name goes on, for the parent to judge
// too), else straight to the judged addresses.
asio::awaitable<Tunnel> open_tunnel(Shared& sh, const Destination& d, const std::string& host, const std::string& name, uint16_t port) {
  Tunnel t;
  // (One co_await per statement: g++ 12 destroys the temporaries of a conditional co_await twice.)
  if (sh.parent && sh.parent->applies_to(host)) {
    auto dialed = co_await tunnel_via(*sh.parent, host, port, sh.o.connect_timeout);
    t.up = std::move(dialed.first);
    t.failure = std::move(dialed.second);
  } else {
    auto dialed = co_await dial({.addresses = d.addresses, .port = port, .name = name, .timeout = sh.o.connect_timeout});
    t.up = std::move(dialed.first);
    t.failure = std::move(dialed.second);
  }
  co_return t;
}

// A tunnel's life: bytes the client sent right after its request (a TLS ClientHello) go
// first, then bytes both ways until both ends have closed; counted on the flow and the record.
asio::awaitable<void> carry_tunnel(Conn& c, Upstream& up, Record& rec) {
  const Millis idle = c.sh.o.idle_timeout;
  if (c.cbuf.size()) {
    up.stream.expires_after(idle);
    co_await asio::async_write(up.stream, c.cbuf.data(), nothrow);
    c.cbuf.consume(c.cbuf.size());
  }
  c.client.expires_never();
  const RelayBytes moved = co_await edge::relay(c.client, up.stream, idle);
  count_bytes(c.flow, moved.a_to_b, moved.b_to_a);
  rec.bytes_up = moved.a_to_b;
  rec.bytes_down = moved.b_to_a;
}

// --- HTTP ---------------------------------------------------------------------------------

asio::awaitable<void> send_simple(Stream& s, std::string_view text, Millis timeout) {
  s.expires_after(timeout);
  co_await asio::async_write(s, asio::buffer(text), nothrow);
}

// 407: the client must send Proxy-Authorization (it may, on this same connection).
asio::awaitable<void> send_auth_required(Stream& s, unsigned version, bool keep) {
  bhttp::response<bhttp::string_body> r{bhttp::status::proxy_authentication_required, version};
  r.set(bhttp::field::server, "edge");
  r.set(bhttp::field::proxy_authenticate, "Basic realm=\"edge proxy\"");
  r.set("Proxy-Status", "edge; error=http_request_denied; details=\"proxy authentication required\"");
  r.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  r.body() = "407 Proxy Authentication Required: this proxy needs a user name and password (curl: --proxy-user USER:PASS)\n";
  r.keep_alive(keep);
  r.prepare_payload();
  s.expires_after(std::chrono::seconds(5));
  co_await bhttp::async_write(s, r, nothrow);
}

// The CONNECT target: "host:port" (an IPv6 host in brackets); the port is required.
struct Authority {
  std::string host;
  uint16_t port = 0;
  std::string problem;
};
Authority parse_authority(std::string_view target) {
  Authority a;
  auto u = boost::urls::parse_authority(target);
  if (!u || u->has_userinfo() || u->encoded_host().empty()) {
    a.problem = "the CONNECT target is not host:port";
    return a;
  }
  if (!u->has_port() || u->port().empty()) {
    a.problem = "the CONNECT target has no port (expected host:port)";
    return a;
  }
  if (u->port_number() == 0) {
    a.problem = "the CONNECT target's port is not 1-65535";
    return a;
  }
  a.host = u->host_type() == boost::urls::host_type::ipv6 ? std::string(u->host_ipv6_address().to_string()) : std::string(u->host());
  if (u->host_type() == boost::urls::host_type::name)
    for (auto& c : a.host) c = char(std::tolower((unsigned char)c));
  a.port = u->port_number();
  return a;
}

// Serves a client connection's HTTP requests until it closes, is parked, or becomes a tunnel.
asio::awaitable<void> serve_http(Conn& c, run::Worker& w) {
  Shared& sh = c.sh;
  const Options& o = sh.o;
  Stream& client = c.client;
  beast::error_code ec0;
  std::optional<http::RequestParser> req_holder;
  std::optional<http::ResponseParser> res_holder;
  std::string target, method, upstream_name;
  while (true) {
    if (c.cbuf.size() == 0) {
      const run::Waited waited = co_await run::wait_for_bytes(w, client, c.cbuf, c.first ? o.header_timeout : o.keepalive_timeout);
      if (waited.what == run::Waited::What::park) {
        w.idle.park(client.socket(), {c.peer, 0, !c.first, c.flow.release(), waited.deadline});
        co_return;
      }
      if (waited.what == run::Waited::What::closed) co_return;
    }
    client.expires_after(o.header_timeout);
    http::RequestParser& req_p = req_holder.emplace();
    req_p.header_limit(http::kMaxHead);
    req_p.body_limit(boost::none);
    const auto start = Clock::now();
    Record rec{.client = c.peer, .protocol = "http"};
    auto finish = [&](unsigned status, std::string cause) {
      rec.status = status;
      rec.ms = ms_since(start);
      const std::string tok = cause_token(std::move(cause));
      rec.cause = tok;
      sh.log.write(rec);
    };
    auto [ec, n, problem] = co_await http::read_raw_head(client, c.cbuf);
    if (problem) {
      const ProxyError err{problem.status, "http_request_error", "malformed request: " + problem.what};
      co_await http::send_error(client, err, false, 11);
      finish(err.status, "bad_request@header");
      co_return;
    }
    if (!ec) {
      const size_t used = req_p.put(asio::buffer(c.cbuf.data().data(), n), ec);
      c.cbuf.consume(used);
      if (!ec && !req_p.is_header_done()) ec = bhttp::error::partial_message;
    }
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset) co_return;
      const ProxyError err = ec == bhttp::error::header_limit ? ProxyError{431, "http_request_error", "request header block over 64 KiB"}
                                                              : ProxyError{400, "http_request_error", "malformed request: " + ec.message()};
      co_await http::send_error(client, err, false, 11);
      finish(err.status, err.status == 431 ? "header_too_large@header" : "bad_request@header");
      co_return;
    }
    c.first = false;
    auto& req = req_p.get();
    method.assign(req.method_string());
    target.assign(req.target());
    rec.method = method;
    rec.target = target;
    const unsigned version = req.version();
    if (size_t(std::distance(req.begin(), req.end())) > http::kMaxFields) {
      const ProxyError err{431, "http_request_error", "more than 100 header fields"};
      co_await http::send_error(client, err, false, version);
      finish(431, "too_many_fields@header");
      co_return;
    }
    const bool has_body = req_p.content_length().value_or(0) > 0 || req_p.chunked();
    const bool keep_client = req.keep_alive() && !sh.rt->draining();
    // A refusal ends the request; the connection stays when the client can send another.
    // (err and cause are named, not arguments: g++ 12 destroys a temporary in a co_await
    // expression twice.)
    ProxyError err;
    std::string cause;
    const auto refuse = [&](bool denied, std::string_view rule) -> asio::awaitable<bool> {
      const bool keep = keep_client && !has_body;
      rec.denied = denied;
      rec.rule = rule;
      finish(err.status, cause);  // logged first: the line is there when the client reads the answer
      co_await http::send_error(client, err, keep, version);
      co_return keep;
    };

    // Who asks: with --auth, every request carries its credentials (Basic is per request).
    Asker asker;
    if (sh.creds.configured()) {
      if (auto basic = Credentials::parse_basic(req[bhttp::field::proxy_authorization]); basic && sh.creds.check(basic->first, basic->second)) {
        asker.user = basic->first;
        asker.authenticated = true;
      }
      rec.user = asker.user;
      if (!asker.authenticated) {
        const bool keep = keep_client && !has_body;
        rec.denied = true;
        rec.rule = "auth";
        finish(407, "auth_required@header");
        co_await send_auth_required(client, version, keep);
        if (keep) continue;
        co_return;
      }
    }
    if (auto d = sh.egress.check_source(c.peer, asker.authenticated)) {
      const policy::Denial denial = *d;
      err = denial_error(denial);
      cause = "denied@source";
      co_await refuse(true, denial.rule);
      co_return;
    }
    if (http::via_names(req, sh.via_by)) {
      err = ProxyError{508, "proxy_loop_detected", "the request has already passed through this proxy (" + sh.via_by + ")"};
      cause = "loop@header";
      if (co_await refuse(false, {})) continue;
      co_return;
    }

    if (req.method() == bhttp::verb::connect) {
      // --- CONNECT: a tunnel ---
      rec.protocol = "connect";
      const Authority a = parse_authority(req.target());
      if (!a.problem.empty()) {
        err = ProxyError{400, "http_request_error", a.problem};
        cause = "bad_target@header";
        if (co_await refuse(false, {})) continue;
        co_return;
      }
      const Destination d = co_await reach(sh, a.host, a.port, policy::Kind::tunnel);
      if (std::string_view rule; refused(d, err, cause, rule)) {
        if (co_await refuse(!rule.empty(), rule)) continue;
        co_return;
      }
      const std::string name = host_port(a.host, a.port);
      Tunnel t = co_await open_tunnel(sh, d, a.host, name, a.port);
      if (!t.up) {
        err = t.failure;
        cause = std::string(t.failure.error) + "@connect";
        if (co_await refuse(false, {})) continue;
        co_return;
      }
      upstream_name = endpoint_of(*t.up);
      rec.upstream = upstream_name;
      run::set_upstream(c.flow, t.up->reply);
      co_await send_simple(client, "HTTP/1.1 200 Connection established\r\n\r\n", o.idle_timeout);
      co_await carry_tunnel(c, *t.up, rec);
      finish(200, "tunnel_closed");
      co_return;
    }

    // --- absolute-form HTTP ---
    auto url = boost::urls::parse_absolute_uri(req.target());
    if (!url) {
      err = ProxyError{400, "http_request_error",
                       req.target().starts_with("/") ? "not a proxy request: the target must be an absolute URL (http://host/path)"
                                                     : "the request target is not an absolute URL"};
      cause = "bad_target@header";
      if (co_await refuse(false, {})) continue;
      co_return;
    }
    std::string scheme(url->scheme());
    for (auto& ch : scheme) ch = char(std::tolower((unsigned char)ch));
    if (scheme != "http") {
      err = ProxyError{400, "http_request_error",
                       scheme == "https" ? "https:// URLs go through a CONNECT tunnel (curl does this with -x)" : "the scheme '" + scheme + "' is not proxied (http only)"};
      cause = "bad_scheme@header";
      if (co_await refuse(false, {})) continue;
      co_return;
    }
    if (url->encoded_host().empty()) {
      err = ProxyError{400, "http_request_error", "the URL has no host"};
      cause = "bad_target@header";
      if (co_await refuse(false, {})) continue;
      co_return;
    }
    std::string host = url->host_type() == boost::urls::host_type::ipv6 ? std::string(url->host_ipv6_address().to_string()) : std::string(url->host());
    for (auto& ch : host) ch = char(std::tolower((unsigned char)ch));
    const uint16_t port = url->has_port() ? url->port_number() : 80;
    if (port == 0) {
      err = ProxyError{400, "http_request_error", "the URL's port is not 1-65535"};
      cause = "bad_target@header";
      if (co_await refuse(false, {})) continue;
      co_return;
    }
    if (auto refusal = http::normalize_request(req)) {
      err = ProxyError{refusal->status, "http_request_error", refusal->details};
      cause = refusal->cause + "@header";
      if (co_await refuse(false, {})) continue;
      co_return;
    }
    const Destination d = co_await reach(sh, host, port, policy::Kind::http);
    if (std::string_view rule; refused(d, err, cause, rule)) {
      if (co_await refuse(!rule.empty(), rule)) continue;
      co_return;
    }
    const bool head_request = req.method() == bhttp::verb::head;
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      req.erase(bhttp::field::expect);
      co_await send_simple(client, "HTTP/1.1 100 Continue\r\n\r\n", o.idle_timeout);
    }
    http::strip_hop_by_hop(req, false);
    // Through an HTTP parent the request stays absolute-form, with the parent's credentials;
    // through a SOCKS5 parent it goes origin-form inside a tunnel to the destination.
    const bool via_parent = sh.parent && sh.parent->applies_to(host);
    const bool http_parent = via_parent && sh.parent->http();
    if (http_parent) {
      req.target(target);
      if (!sh.parent->authorization.empty()) req.set(bhttp::field::proxy_authorization, sh.parent->authorization);
    }
    if (req.count(bhttp::field::via)) req.set(bhttp::field::via, std::string(req[bhttp::field::via]).append(", ").append(sh.via));
    else req.set(bhttp::field::via, sh.via);
    req.keep_alive(true);

    // An origin connection: pooled for this destination, or a new one.
    const std::string key = host_port(host, port);
    const size_t slot = c.ts.slot(http_parent ? "parent " + sh.parent->name : via_parent ? "socks " + key : key);
    const auto connect = [&]() -> asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> {
      if (http_parent) co_return co_await dial_parent(*sh.parent, o.connect_timeout);
      if (via_parent) co_return co_await tunnel_via(*sh.parent, host, port, o.connect_timeout);
      co_return co_await dial({.addresses = d.addresses, .port = port, .name = key, .timeout = o.connect_timeout});
    };
    std::unique_ptr<Upstream> up = c.ts.pool.take(slot);
    bool reused = up != nullptr;
    if (!up) {
      auto dialed = co_await connect();
      if (!dialed.first) {
        err = dialed.second;
        cause = std::string(dialed.second.error) + "@connect";
        if (co_await refuse(false, {})) continue;
        co_return;
      }
      up = std::move(dialed.first);
    }
    http::ResponseParser& res_p = res_holder.emplace();
    beast::error_code ec_head;
    for (int attempt = 0;; ++attempt) {
      run::set_upstream(c.flow, up->reply);
      co_await let_ready_run();
      const http::Relayed sent = co_await http::relay_message(client, c.cbuf, req_p, up->stream, o.idle_timeout, rec.bytes_up, c.copy_buf, c.head);
      if (sent.malformed()) {
        const ProxyError bad{400, "http_request_error", "malformed request body: " + sent.ec.message()};
        co_await http::send_error(client, bad, false, version);
        finish(400, "bad_body@request_body");
        co_return;
      }
      if (sent.ec && sent.reading_failed) {
        finish(0, std::string("client_") + (sent.ec == beast::error::timeout ? "idle" : "aborted") + "@request_body");
        co_return;
      }
      http::reset(res_p, head_request);
      ec_head = sent.ec;
      if (!sent.ec) ec_head = co_await http::read_response_head(up->stream, up->buffer, res_p, head_request, o.response_timeout);
      const bool no_response = ec_head == bhttp::error::end_of_stream || ec_head == asio::error::connection_reset || ec_head == asio::error::eof ||
                               ec_head == asio::error::broken_pipe;
      // A pooled connection the origin had closed meanwhile: a bodiless request goes once more
      // on a fresh connection (it never reached the application).
      if (!(no_response && reused && !has_body && attempt == 0)) break;
      auto dialed = co_await connect();
      if (!dialed.first) break;
      up = std::move(dialed.first);
      reused = false;
    }
    upstream_name = endpoint_of(*up);
    rec.upstream = upstream_name;
    if (ec_head) {
      if (ec_head == beast::error::timeout) err = {504, "http_response_timeout", key + " sent no response within " + format_duration(o.response_timeout)};
      else if (ec_head == bhttp::error::end_of_stream || ec_head == asio::error::connection_reset || ec_head == asio::error::eof)
        err = {502, "connection_terminated", key + " closed the connection without a response"};
      else err = {502, "http_protocol_error", key + ": " + ec_head.message()};
      co_await http::send_error(client, err, false, version);
      finish(err.status, std::string(err.error) + "@response");
      co_return;
    }
    auto& res = res_p.get();
    const bool close_framed = res_p.need_eof();
    const bool origin_keep = res.keep_alive() && !close_framed;
    http::strip_hop_by_hop(res, false);
    if (res.count(bhttp::field::via)) res.set(bhttp::field::via, std::string(res[bhttp::field::via]).append(", ").append(sh.via));
    else res.set(bhttp::field::via, sh.via);
    const bool keep = keep_client && !sh.rt->draining() && !close_framed;
    res.version(11);
    res.keep_alive(keep);
    if (keep && version == 10) res.set(bhttp::field::connection, "keep-alive");
    co_await let_ready_run();  // the responses of one wake-up leave together too
    const http::Relayed got = co_await http::relay_message(up->stream, up->buffer, res_p, client, o.idle_timeout, rec.bytes_down, c.copy_buf, c.head);
    count_bytes(c.flow, rec.bytes_up, rec.bytes_down);
    finish(res.result_int(), got.ec ? "relay_" + got.ec.message() + "@body" : std::string(keep ? "keepalive" : "closed"));
    if (!got.ec && origin_keep && got.complete && up->buffer.size() == 0) c.ts.pool.put(slot, std::move(up));
    if (got.ec || !keep) {
      client.socket().shutdown(tcp::socket::shutdown_send, ec0);
      co_return;
    }
  }
}

// --- SOCKS5 -------------------------------------------------------------------------------

// Reads until `parse` has a message (or an error) from the connection's buffer; a client that
// closes or stalls mid-message leaves a need_more step.
template <class Parse>
auto socks_read(Conn& c, Parse parse) -> asio::awaitable<decltype(parse(std::span<const uint8_t>{}))> {
  while (true) {
    auto step = parse(std::span<const uint8_t>(static_cast<const uint8_t*>(c.cbuf.data().data()), c.cbuf.size()));
    if (step.status != socks::Status::need_more) co_return step;
    auto [ec, n] = co_await c.client.async_read_some(c.cbuf.prepare(std::max<size_t>(step.at_least - c.cbuf.size(), 512)), nothrow);
    if (ec) co_return step;
    c.cbuf.commit(n);
  }
}

socks::Reply reply_for(const ProxyError& e) {
  if (e.error == "connection_refused") return socks::Reply::connection_refused;
  if (e.error == "connection_timeout") return socks::Reply::ttl_expired;
  if (e.error == "dns_error" || e.error == "destination_not_found") return socks::Reply::host_unreachable;
  return socks::Reply::network_unreachable;
}

asio::awaitable<void> serve_socks5(Conn& c) {
  Shared& sh = c.sh;
  const Options& o = sh.o;
  Stream& client = c.client;
  const auto start = Clock::now();
  Record rec{.client = c.peer, .protocol = "socks5"};
  std::string target, cause_text, upstream_name, user;
  auto finish = [&](unsigned status, std::string cause) {
    rec.status = status;
    rec.ms = ms_since(start);
    cause_text = cause_token(std::move(cause));
    rec.cause = cause_text;
    sh.log.write(rec);
  };
  auto send = [&](const socks::ReplyBytes& bytes) -> asio::awaitable<bool> {
    client.expires_after(o.header_timeout);
    auto [ec, n] = co_await asio::async_write(client, asio::buffer(bytes.bytes().data(), bytes.size()), nothrow);
    co_return !ec;
  };
  // A refusal's reply must reach the client before the close: with its bytes unread, the
  // kernel would answer the close with a RST that can destroy the reply in flight.
  auto send_and_close = [&](const socks::ReplyBytes& bytes) -> asio::awaitable<void> {
    if (!bytes.empty()) co_await send(bytes);
    beast::error_code ec;
    client.socket().shutdown(tcp::socket::shutdown_send, ec);
    client.expires_after(std::chrono::milliseconds(200));
    char sink[512];
    co_await client.async_read_some(asio::buffer(sink), nothrow);
  };
  client.expires_after(o.header_timeout);
  const socks::MethodConfig methods{.require_auth = sh.creds.configured(), .allow_no_auth = false};
  auto greeting = co_await socks_read(c, [&](std::span<const uint8_t> b) { return socks::parse_greeting(b, methods); });
  if (greeting.status != socks::Status::done) {
    const bool no_method = greeting.status == socks::Status::error && greeting.reply.size() == 2;
    co_await send_and_close(greeting.reply);
    rec.denied = no_method;
    rec.rule = no_method ? "auth" : "";
    finish(no_method ? 407 : 0, greeting.status == socks::Status::need_more ? "client_closed@socks_greeting"
                                : no_method                                   ? "no_acceptable_method@socks_greeting"
                                                                              : "bad_greeting@socks_greeting");
    co_return;
  }
  c.cbuf.consume(greeting.consumed);
  if (!co_await send(socks::method_reply(greeting.value.method))) co_return;
  bool authenticated = false;
  if (greeting.value.method == socks::kUserPass) {
    auto auth = co_await socks_read(c, [](std::span<const uint8_t> b) { return socks::parse_auth(b); });
    if (auth.status != socks::Status::done) {
      co_await send_and_close(auth.reply);
      finish(0, "bad_auth_message@socks_auth");
      co_return;
    }
    c.cbuf.consume(auth.consumed);
    user = auth.value.user;
    rec.user = user;
    authenticated = sh.creds.check(auth.value.user, auth.value.password);
    if (!authenticated) {
      rec.denied = true;
      rec.rule = "auth";
      finish(407, "auth_failed@socks_auth");
      co_await send_and_close(socks::auth_reply(false));
      co_return;
    }
    if (!co_await send(socks::auth_reply(true))) co_return;
  }
  auto request = co_await socks_read(c, [](std::span<const uint8_t> b) { return socks::parse_request(b); });
  if (request.status != socks::Status::done) {
    co_await send_and_close(request.reply);
    finish(0, request.status == socks::Status::need_more ? "client_closed@socks_request" : cause_token("bad_request:" + request.reason) + "@socks_request");
    co_return;
  }
  c.cbuf.consume(request.consumed);
  const socks::Request& r = request.value;
  const std::string host = r.host.empty() ? r.addr->str() : r.host;
  target = host_port(host, r.port);
  rec.method = "CONNECT";
  rec.target = target;
  std::string cause;  // named, not an argument: g++ 12 destroys a co_await's temporaries twice
  const auto fail = [&](socks::Reply code, unsigned status, bool denied, std::string_view rule) -> asio::awaitable<void> {
    rec.denied = denied;
    rec.rule = rule;
    finish(status, cause);
    co_await send_and_close(socks::reply(code));
  };
  if (auto d = sh.egress.check_source(c.peer, authenticated)) {
    const policy::Denial denial = *d;
    cause = "denied@source";
    co_await fail(socks::Reply::not_allowed_by_ruleset, 403, true, denial.rule);
    co_return;
  }
  const Destination d = co_await reach(sh, host, r.port, policy::Kind::tunnel);
  if (d.denial) {
    const policy::Denial denial = *d.denial;
    cause = "denied@" + std::string(denial.rule);
    co_await fail(socks::Reply::not_allowed_by_ruleset, 403, true, denial.rule);
    co_return;
  }
  if (d.addresses.empty()) {
    cause = std::string(d.failure.error) + "@resolve";
    co_await fail(socks::Reply::host_unreachable, 502, false, {});
    co_return;
  }
  Tunnel t = co_await open_tunnel(sh, d, host, target, r.port);
  if (!t.up) {
    cause = std::string(t.failure.error) + "@connect";
    co_await fail(reply_for(t.failure), t.failure.status, false, {});
    co_return;
  }
  upstream_name = endpoint_of(*t.up);
  rec.upstream = upstream_name;
  run::set_upstream(c.flow, t.up->reply);
  if (!co_await send(socks::reply(socks::Reply::succeeded, &t.up->reply.dst, t.up->reply.dport))) co_return;
  co_await carry_tunnel(c, *t.up, rec);
  finish(200, "tunnel_closed");
}

// A connection: HTTP, or SOCKS5 when its first byte is 5 (a SOCKS4 client gets SOCKS4's
// "rejected" at once).
asio::awaitable<void> session(tcp::socket sock, Shared& sh, run::Worker& w, std::optional<run::Idle::Parked> parked) {
  run::ConnCount count(sh.rt->conns(), parked.has_value());
  ThreadState& ts = *sh.threads[w.index];
  beast::error_code ec0;
  std::optional<Conn> holder;
  if (parked) holder.emplace(sh, ts, *parked, std::move(sock));
  else holder.emplace(sh, ts, to_ipaddr(sock.remote_endpoint(ec0).address()), std::move(sock));
  Conn& c = *holder;
  if (c.first) {
    // The first bytes decide the protocol.
    if (c.cbuf.size() == 0) {
      const run::Waited waited = co_await run::wait_for_bytes(w, c.client, c.cbuf, sh.o.header_timeout);
      if (waited.what != run::Waited::What::data) co_return;
    }
    const uint8_t first = static_cast<const uint8_t*>(c.cbuf.data().data())[0];
    const socks::FirstByte kind = socks::classify(first);
    if (kind == socks::FirstByte::socks4) {
      const auto reject = socks::socks4_reject();
      c.client.expires_after(std::chrono::seconds(5));
      co_await asio::async_write(c.client, asio::buffer(reject), nothrow);
      sh.log.write({.client = c.peer, .protocol = "socks4", .status = 0, .cause = "socks4_not_supported@greeting"});
      co_return;
    }
    if (kind == socks::FirstByte::socks5 && sh.o.socks) {
      co_await serve_socks5(c);
      co_await tls::goodbye(c.client);
      co_return;
    }
  }
  co_await serve_http(c, w);
}

class Service : public run::Handler {
 public:
  explicit Service(Shared& sh) : sh_(sh) {}
  void start(tcp::socket s, run::Worker& w, std::optional<run::Idle::Parked> parked) override {
    asio::co_spawn(w.ctx, session(std::move(s), sh_, w, parked), asio::detached);
  }
  void reopen_logs() override { sh_.log.reopen(); }
  void accepted() override { sh_.metrics.connection(); }

 private:
  Shared& sh_;
};

}  // namespace

int run(const Options& o) {
  auto egress = policy::Egress::build(o.egress);
  if (!egress) throw Fatal(Exit::usage, egress.error());
  Credentials creds = !o.auth.empty() ? Credentials::from_pair(o.auth) : !o.auth_file.empty() ? Credentials::from_file(o.auth_file) : Credentials();
  // A listener others can reach, with nobody to keep them out, is an open proxy: only on request.
  IpAddr listen_addr;  // an empty host: every address
  if (auto a = policy::parse_any_address(o.listen.host())) listen_addr = *a;
  if (policy::listen_needs_guard(listen_addr, o.egress))
    throw Fatal(Exit::usage, "--listen " + o.listen.str() +
                                 ": a proxy on a non-loopback address needs --allow-src CIDR or --auth (or --open to run an open proxy on purpose)");
  Shared sh(o, std::move(*egress), std::move(creds));
  if (!o.parent.empty()) sh.parent = make_parent(o.parent, o.no_parent_for, o.connect_timeout);
  Service service(sh);
  run::Runtime rt({.command = "proxy", .listen = o.listen, .any_host = "0.0.0.0", .threads = o.threads, .max_conns = o.max_conns,
                   .header_timeout = o.header_timeout, .idle_timeout = o.idle_timeout, .drain = o.drain, .park_fresh = true},
                  service);
  sh.rt = &rt;
  for (unsigned i = 0; i < rt.threads(); ++i) sh.threads.push_back(std::make_unique<ThreadState>(o.keepalive));
  // The idle upstream connections go before the runtime does: their sockets belong to its
  // io_contexts and their deadlines to its lists.
  struct ClosePools {
    Shared& sh;
    ~ClosePools() { sh.threads.clear(); }
  } close_pools{sh};
  // Metrics on the first thread; a bare port means loopback only.
  std::optional<tcp::acceptor> metrics_acceptor;
  if (o.metrics) {
    metrics_acceptor.emplace(run::listen_on(rt.main(), *o.metrics, "--metrics", "127.0.0.1", false, false));
    asio::co_spawn(rt.main(), run::serve_metrics(*metrics_acceptor, [&sh] { return sh.metrics.text(sh.rt->conns()); }, "proxy"), asio::detached);
  }
  std::fprintf(stderr, "edge proxy: listening on %s (http, connect%s), %s, %u thread(s)\n", rt.listen_text().c_str(), o.socks ? ", socks5" : "",
               sh.creds.configured() ? "password required" : "no password", rt.threads());
  std::fprintf(stderr, "edge proxy: %s\n", sh.egress.describe().c_str());
  if (sh.parent)
    std::fprintf(stderr, "edge proxy: parent %s://%s%s%s\n", sh.parent->url.scheme.c_str(), sh.parent->name.c_str(),
                 sh.parent->url.user.empty() ? "" : " (with credentials)",
                 sh.parent->no_parent_for.empty() ? "" : (", not for " + sh.parent->no_parent_for).c_str());
  if (metrics_acceptor) std::fprintf(stderr, "edge proxy: metrics at http://%s/metrics\n", run::endpoint_text(*metrics_acceptor).c_str());
  return rt.run();
}

}  // namespace edge::proxy
