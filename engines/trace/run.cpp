// `edge trace`: walks proxy-config, dns, route, tcp, proxy, tls, http in order, stops at the
// first failure, and prints one line per layer and one verdict (or JSON), exiting with the
// failed cause's code. Layers that do not apply are `skipped` with the reason; layers after
// a failure are `not_run`: never reported as failed.
#include <unistd.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "core/base/errors.h"
#include "core/base/netns.h"
#include "core/base/text.h"
#include "core/out/json_text.h"
#include "core/trace/causes.h"
#include "core/trace/classify.h"
#include "core/capture/capture.h"
#include "core/trace/dns_probe.h"
#include "core/trace/hops.h"
#include "core/trace/http_probe.h"
#include "core/trace/proxy_env.h"
#include "core/trace/proxy_probe.h"
#include "core/trace/socks_probe.h"
#include "core/trace/route_probe.h"
#include "core/trace/tcp_probe.h"
#include "core/trace/target.h"
#include "core/trace/tls_probe.h"
#include "engines/trace/options.h"

namespace edge::trace {
namespace json = boost::json;
namespace {

LayerResult skipped(std::string name, std::string why) {
  LayerResult r;
  r.name = std::move(name);
  r.status = Status::skipped;
  r.summary = std::move(why);
  return r;
}

const char* status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::fail: return "fail";
    case Status::skipped: return "skipped";
    case Status::not_run: return "not_run";
  }
  return "?";
}

// A name with both families and no -4/-6: the IPv6 address is tried alongside the IPv4 one, as
// a happy-eyeballs client (RFC 8305) would, on a thread of its own that owns everything it
// touches (a late answer is simply dropped).
struct OtherFamily {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  IpAddr addr;
  LayerResult route, tcp;
  RouteInfo route_info;
  std::unique_ptr<Stream> stream;
  Clock::time_point start = Clock::now();
  double ms = 0;  // from its start to its outcome
};

std::shared_ptr<OtherFamily> try_other_family(const IpAddr& addr, uint16_t port, Millis timeout) {
  auto st = std::make_shared<OtherFamily>();
  st->addr = addr;
  std::thread([st, addr, port, timeout] {
    RouteInfo info;
    LayerResult route = probe_route(addr, timeout, info), tcp;
    std::unique_ptr<Stream> stream;
    if (route.status != Status::fail) tcp = probe_tcp("tcp", addr, port, &info, timeout, stream);
    std::lock_guard lock(st->m);
    st->route = std::move(route);
    st->tcp = std::move(tcp);
    st->route_info = info;
    st->stream = std::move(stream);
    st->ms = std::chrono::duration<double, std::milli>(Clock::now() - st->start).count();
    st->done = true;
    st->cv.notify_all();
  }).detach();
  return st;
}

// RFC 8305's connection attempt delay (curl waits 200ms): how long a happy-eyeballs client gives
// the preferred family before it starts the other.
constexpr double kAttemptDelayMs = 250;

class Trace {
 public:
  explicit Trace(const TraceOptions& o) : o_(o), target_(o.target) {}

  int run() {
    walk();
    // -L: each redirect is traced as its own hop, from proxy-config on; the verdict is the
    // first failure on the chain, so the walk stops at a failed layer.
    std::vector<std::string> seen{url_of(target_)};
    while (o_.follow && next_location_) {
      std::string next = *next_location_;
      auto http = std::find_if(layers_.begin(), layers_.end(), [](const LayerResult& l) { return l.name == "http"; });
      const std::string cause(classify_redirect(seen, next, *o_.follow));
      auto target = parse_target(next);
      if (!cause.empty()) {
        const bool again = std::find(seen.begin(), seen.end(), next) != seen.end();
        seen.push_back(next);
        http->evidence["chain"] = chain_urls(seen);
        *http = fail(std::move(*http), cause,
                     again ? "redirect loop: " + url_of(target_) + " redirects to " + next + ", visited before (" + std::to_string(seen.size() - 2) +
                                 " redirect(s) followed)"
                           : "more than " + std::to_string(*o_.follow) + " redirects (-L " + std::to_string(*o_.follow) + "): the chain goes on to " + next);
        break;
      }
      if (!target) {
        *http = fail(std::move(*http), "protocol_error", "redirects to '" + next + "', which edge trace cannot follow: " + target.error());
        break;
      }
      seen.push_back(next);
      hops_.push_back(json::object{{"target", url_of(target_)}, {"status", http->evidence["response"].as_object()["status"]},
                                   {"location", next}, {"duration_ms", std::round(hop_ms() * 100) / 100}, {"layers", layers_json()}});
      hop_lines_.push_back(url_of(target_) + " -> " + std::to_string(last_status_) + " -> " + next);
      layers_.clear();
      next_location_.reset();
      target_ = *target;
      walk();
    }
    if (capture_) capture_packets_ = capture_->finish();
    for (auto name : layer_names()) {
      bool present = false;
      for (auto& l : layers_) present = present || l.name == name;
      if (!present) {
        LayerResult r;
        r.name = std::string(name);
        layers_.push_back(std::move(r));
      }
    }
    std::sort(layers_.begin(), layers_.end(), [](auto& a, auto& b) { return index(a.name) < index(b.name); });
    const LayerResult* failed = nullptr;
    for (auto& l : layers_)
      if (l.status == Status::fail) failed = &l;
    const int code = failed ? exit_code_for(failed->name, failed->cause).value_or(int(Exit::failed)) : 0;
    if (o_.json) print_json(failed, code);
    else print_human(failed, code);
    return code;
  }

 private:
  static size_t index(const std::string& name) {
    const auto& n = layer_names();
    return size_t(std::find(n.begin(), n.end(), name) - n.begin());
  }
  bool add(LayerResult r) {
    const bool ok = r.status != Status::fail;
    total_ms_ += r.duration_ms;
    layers_.push_back(std::move(r));
    return ok;
  }

  // --hops: the path to addr:port, attached to the layer that connected (tcp, or proxy).
  void add_hops(LayerResult& r, const IpAddr& addr, uint16_t port) {
    if (!o_.hops) return;
    const auto hops = tcp_hops(addr, port, 30, 3, std::min(o_.timeout, Millis(1000)));
    json::array arr;
    std::string path;
    std::optional<Hop> last_answer;
    for (const Hop& h : hops) {
      arr.push_back(json::object{{"ttl", h.ttl}, {"from", h.from ? json::value(h.from->str()) : json::value(nullptr)},
                                 {"what", h.what}, {"rtt_ms", std::round(h.rtt_ms * 100) / 100}});
      path += (path.empty() ? "" : "  ") + std::to_string(h.ttl) + " " + (h.from ? h.from->str() : "*");
      if (h.from) last_answer = h;
    }
    r.evidence["hops"] = std::move(arr);
    r.details.push_back("hops: " + path);
    if (!hops.empty() && hops.back().what == "no_answer")
      r.details.push_back(last_answer ? "packets die after hop " + std::to_string(last_answer->ttl) + " (" + last_answer->from->str() + ")"
                                      : "no hop answered: packets die at the first hop");
  }

  // --body (and --mtu): the body read to its end, its size and time in the evidence; an end
  // before its Content-Length or final chunk is truncated_body.
  void judge_body(LayerResult& h, const BodyRead& b) {
    h.evidence["body"] = json::object{{"bytes", b.bytes}, {"ms", std::round(b.ms * 100) / 100}, {"complete", b.complete},
                                      {"chunked", b.chunked}, {"content_length", b.expected ? json::value(*b.expected) : json::value(nullptr)},
                                      {"capped", b.capped}, {"error", b.error.empty() ? json::value(nullptr) : json::value(b.error)}};
    const std::string after = " after " + std::to_string(int(b.ms + 0.5)) + "ms";
    const std::string cause(classify_body({b.complete, b.truncated, b.stalled}));
    if (cause.empty()) {
      h.summary += ", body of " + std::to_string(b.bytes) + " bytes in " + std::to_string(int(b.ms + 0.5)) + "ms" +
                   (b.capped ? " (read up to --max-body)" : "");
      return;
    }
    std::string why;
    const std::string how = b.error.empty() || b.error == "partial message" ? "" : " (" + b.error + ")";
    if (cause == "truncated_body")
      why = b.expected ? "the body ended after " + std::to_string(b.bytes) + " of its " + std::to_string(*b.expected) + " bytes (Content-Length)" + after + how
            : b.chunked ? "the chunked body ended after " + std::to_string(b.bytes) + " bytes without its final chunk" + after + how
                        : "the body ended after " + std::to_string(b.bytes) + " bytes" + after + how;
    else if (cause == "timeout") why = "the body stalled after " + std::to_string(b.bytes) + " bytes: nothing for " + format_duration(o_.timeout);
    else why = "the body's framing is broken after " + std::to_string(b.bytes) + " bytes: " + b.error;
    h = fail(std::move(h), cause, why);
  }

  // --mtu: a response that stalls (or never starts) while small packets pass is the mark of a
  // path MTU blackhole; the proof is the same request arriving whole with a clamped MSS.
  void check_mtu(LayerResult& h, const ResponseHead& head, Stream& stream, const IpAddr& addr, const RouteInfo& route,
                 const std::string& path) {
    constexpr uint64_t kCap = 16 << 20;
    json::object mtu;
    bool suspect = false;
    if (h.status == Status::fail && h.cause == "timeout") {
      suspect = true;
      mtu["first_attempt"] = json::object{{"bytes", 0}, {"stalled", true}, {"where", "before the response head"}};
    } else if (head.status) {
      const BodyRead body = read_body(stream, head, o_.timeout, o_.body ? o_.max_body : kCap);
      mtu["first_attempt"] = json::object{{"bytes", body.bytes}, {"stalled", body.stalled}, {"complete", body.complete}};
      suspect = body.stalled;
      if (!suspect && h.status == Status::ok) judge_body(h, body);
    }
    if (suspect) {
      const int mss = addr.family() == Family::v4 ? 536 : 1220;
      std::unique_ptr<Stream> s2;
      BodyRead retry;
      ResponseHead h2;
      if (probe_tcp("tcp", addr, target_.port, &route, o_.timeout, s2, mss).status == Status::ok) {
        bool ready = true;
        if (target_.wants_tls()) {
          ready = probe_tls(*s2, tls_options(), o_.timeout).status == Status::ok;
        }
        if (ready && probe_http(*s2, target_.authority(), path, o_.timeout, h2).evidence.contains("response"))
          retry = read_body(*s2, h2, o_.timeout, kCap);
      }
      mtu["retry_mss"] = mss;
      mtu["retry"] = json::object{{"bytes", retry.bytes}, {"complete", retry.complete}};
      if (retry.complete && h2.status) {
        const auto first = mtu["first_attempt"].as_object().at("bytes").to_number<uint64_t>();
        h = fail(std::move(h), "mtu_blackhole",
                 (first ? "the response stalls at full size (" + std::to_string(first) + " bytes arrived, then nothing for "
                        : std::string("the response never arrives at full size (nothing for ")) +
                     format_duration(o_.timeout) + ") but arrives whole (" + std::to_string(retry.bytes) + " bytes) with MSS " +
                     std::to_string(mss) + ": full-size packets are dropped on the path and no ICMP 'fragmentation needed' comes back");
      } else if (h.status == Status::ok) {
        const auto first = mtu["first_attempt"].as_object().at("bytes").to_number<uint64_t>();
        h = fail(std::move(h), "timeout",
                 "the body stalled after " + std::to_string(first) + " bytes, and also with MSS " + std::to_string(mss) +
                     " (not an MTU problem: the server or the path stops sending)");
      }
    }
    h.evidence["mtu"] = std::move(mtu);
  }

  TlsOptions tls_options() const {
    TlsOptions to;
    // An IPv4-mapped literal is verified against the certificate's IPv4 address.
    to.host = target_.address ? target_.address->str() : target_.host;
    to.host_is_ip = target_.host_is_literal;
    to.cafile = o_.cacert;
    to.alpn_http = target_.wants_http();
    to.cert = o_.cert;
    to.key = o_.key;
    return to;
  }

  void start_capture(const RouteInfo& route, const IpAddr& addr) {
    if (o_.capture.empty() || capture_) return;  // -L: the first hop's capture carries on
    const std::string iface = route.interface.empty() ? "any" : route.interface;
    capture_ = std::make_unique<Capture>(iface, "host " + addr.str() + " or icmp or icmp6", o_.capture);
    if (!capture_->ok()) {
      capture_note_ = "not possible on " + iface + ": " + capture_->error();
      capture_.reset();
    }
  }

  void walk() {
    const Target& t = target_;
    // 1. proxy-config
    LayerClock pc_clock;
    ProxyDecision d = decide_proxy(t.scheme, t.host, t.port, proxy_env_from_process(), o_.proxy);
    LayerResult pc;
    pc.name = "proxy-config";
    pc.duration_ms = pc_clock.elapsed_ms();
    pc.evidence["variable"] = d.variable.empty() ? json::value(nullptr) : json::value(d.variable);
    if (!d.raw_value.empty()) pc.evidence["value"] = d.raw_value;
    if (!d.no_proxy_token.empty()) pc.evidence["no_proxy_match"] = d.no_proxy_variable + ": " + d.no_proxy_token;
    pc.evidence["reason"] = d.reason;
    if (d.go_differs) pc.evidence["go_differs"] = *d.go_differs;
    if (d.error) {
      add(fail(std::move(pc), "bad_proxy_url", *d.error));
      return;
    }
    pc.status = Status::ok;
    pc.summary = (d.proxy ? "via " + d.proxy->scheme + "://" + d.proxy->host + ":" + std::to_string(d.proxy->port) + ": " : "direct: ") + d.reason;
    if (d.go_differs) pc.summary += " (Go would differ: " + *d.go_differs + ")";
    pc.evidence["proxy"] = d.proxy ? json::value(d.proxy->scheme + "://" + d.proxy->host + ":" + std::to_string(d.proxy->port)) : json::value(nullptr);
    add(std::move(pc));
    const std::optional<ProxyUrl> proxy = d.proxy;

    // 2. dns: the name the packets go to first, the proxy's when one applies.
    const std::string host = proxy ? proxy->host : t.host;
    std::optional<IpAddr> addr;
    if (auto literal = proxy ? address_literal(host) : t.address) {
      if (o_.family && literal->family() != *o_.family) {
        add(fail(skipped("dns", ""), "nodata", host + " is an " + (literal->family() == Family::v4 ? "IPv4" : "IPv6") + " address but " +
                                                     (*o_.family == Family::v4 ? "-4" : "-6") + " was asked"));
        return;
      }
      add(skipped("dns", host + " is an address literal" + (literal->str() != host && literal->family() == Family::v4
                                                                ? " (IPv4-mapped: " + literal->str() + ")" : std::string())));
      addr = *literal;
    } else {
      DnsAnswer answer;
      LayerResult dns = probe_dns(host, o_.family, o_.timeout, answer);
      if (proxy) dns.evidence["resolving"] = "the proxy " + host;
      else if (!t.idn.empty()) dns.evidence["idn"] = t.idn + " -> " + t.host;
      if (!add(std::move(dns))) return;
      // IPv4 first unless -6: the other family stays in the evidence.
      const bool v6 = o_.family == Family::v6 || (!o_.family && answer.v4.empty());
      addr = v6 ? answer.v6.front() : answer.v4.front();
      if (!proxy && !o_.family && !answer.v4.empty() && !answer.v6.empty()) other_ = try_other_family(answer.v6.front(), t.port, o_.timeout);
    }

    // 3. route
    RouteInfo route;
    std::unique_ptr<Stream> stream;
    LayerResult rt = probe_route(*addr, o_.timeout, route);
    if (rt.status == Status::fail && other_works(rt, addr, route, stream)) {
      // IPv6 carries the trace: its route and tcp layers are in; on to the next layers.
    } else {
      if (!add(std::move(rt))) return;
    }
    start_capture(route, *addr);

    // 4. tcp, or 5. the proxy's connect and CONNECT
    if (!proxy) {
      if (!stream) {
        LayerResult tcp = probe_tcp("tcp", *addr, t.port, &route, o_.timeout, stream);
        add_hops(tcp, *addr, t.port);
        if (tcp.status == Status::fail && other_works(tcp, addr, route, stream)) {
          // IPv6 carries the trace from here.
        } else {
          if (tcp.status == Status::ok) note_other_family(tcp);
          if (!add(std::move(tcp))) return;
        }
      }
      add(skipped("proxy", "no proxy applies"));
    } else {
      add(skipped("tcp", "a proxy applies: the connection goes to the proxy (next layer)"));
      const bool socks5 = proxy->scheme == "socks5" || proxy->scheme == "socks5h";
      const bool https_proxy = proxy->scheme == "https";
      if (proxy->scheme != "http" && !https_proxy && !socks5) {
        LayerResult p;
        p.name = "proxy";
        add(fail(std::move(p), "proxy_protocol_error",
                 proxy->scheme + ":// proxies are not supported by edge trace yet (http://, https://, socks5://, socks5h://)"));
        return;
      }
      LayerResult p = probe_tcp("proxy", *addr, proxy->port, &route, o_.timeout, stream);
      add_hops(p, *addr, proxy->port);
      if (p.status == Status::fail) {
        p.evidence["tcp_cause"] = p.cause;
        p.cause = "proxy_unreachable";
        p.summary = "the proxy " + proxy->host + ":" + std::to_string(proxy->port) + " is unreachable: " + p.summary;
        add(std::move(p));
        return;
      }
      if (https_proxy) {
        // TLS to the proxy itself, checked like the target's (--cacert serves both): a failure
        // here is the proxy's, with the tls cause in the evidence.
        TlsOptions to = tls_options();
        to.host = proxy->host;
        to.host_is_ip = address_literal(proxy->host).has_value();
        to.alpn_http = false;
        to.cert.clear();
        to.key.clear();
        LayerResult pt = probe_tls(*stream, to, o_.timeout);
        p.duration_ms += pt.duration_ms;
        p.evidence["tls"] = pt.evidence;
        if (pt.status == Status::fail) {
          p.evidence["tls_cause"] = pt.cause;
          add(fail(std::move(p), "proxy_tls_error", "TLS to the proxy " + proxy->host + ":" + std::to_string(proxy->port) + " failed: " + pt.summary));
          return;
        }
      }
      if (socks5) {
        // Every target goes through the SOCKS5 tunnel; HTTP then speaks origin-form in it.
        if (!add(probe_socks5(std::move(p), *stream, t.host, t.port, proxy->user, proxy->password, o_.timeout))) return;
      } else if (auth_ = proxy_auth_header(proxy->user, proxy->password); !t.wants_http() || t.wants_tls()) {
        // https, tls:// and plain TCP targets go through a CONNECT tunnel.
        const std::string authority = (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) + ":" + std::to_string(t.port);
        if (!add(probe_connect(std::move(p), *stream, authority, auth_, o_.timeout))) return;
      } else {
        p.summary = std::string("connected to the proxy") + (https_proxy ? " over TLS" : "") + "; it forwards the request (absolute-form)";
        add(std::move(p));
      }
    }

    // 6. tls
    if (t.wants_tls()) {
      if (!add(probe_tls(*stream, tls_options(), o_.timeout))) return;
    } else {
      add(skipped("tls", t.scheme == "http" ? "plain http" : "plain tcp target"));
    }

    // 7. http
    if (!t.wants_http()) {
      add(skipped("http", t.scheme == "tls" ? "tls:// target: no HTTP" : "tcp target: no HTTP"));
      return;
    }
    const bool absolute = proxy && (proxy->scheme == "http" || proxy->scheme == "https") && !t.wants_tls();
    const std::string path = absolute ? t.scheme + "://" + t.authority() + t.path : t.path;
    ResponseHead head;
    LayerResult h = probe_http(*stream, t.authority(), path, o_.timeout, head, absolute ? auth_ : std::string());
    if (const std::string_view complaint = client_cert_complaint(head); t.wants_tls() && !complaint.empty()) {
      // The server judged the client certificate after the handshake and said so in HTTP:
      // the failure is the tls layer's, and http is not run.
      for (auto& l : layers_)
        if (l.name == "tls") {
          const bool sent = !o_.cert.empty();
          l.evidence["server_said"] = std::to_string(head.status) + " " + head.reason + ": " + std::string(complaint);
          l = fail(std::move(l), sent ? "handshake_failure" : "client_cert_required",
                   sent ? "the server rejected the client certificate " + o_.cert + " (it answered " + std::to_string(head.status) + ": " + std::string(complaint) + ")"
                        : "the server requires a client certificate and none was sent (it answered " + std::to_string(head.status) + ": " +
                              std::string(complaint) + "): pass --cert FILE --key FILE");
          total_ms_ += h.duration_ms;
        }
      return;
    }
    if (o_.mtu && !proxy) check_mtu(h, head, *stream, *addr, route, path);
    else if ((o_.body || o_.mtu) && h.status == Status::ok && !(absolute && answered_by_proxy(head)))
      judge_body(h, read_body(*stream, head, o_.timeout, o_.max_body));
    if (absolute && head.status && answered_by_proxy(head)) {
      // The proxy answered for the origin: the failure belongs to the proxy layer, and the
      // layers after it never ran.
      std::erase_if(layers_, [](const LayerResult& l) { return index(l.name) > index("proxy"); });
      for (auto& l : layers_)
        if (l.name == "proxy") {
          l.evidence["response"] = head_evidence(head);
          std::string cause(classify_proxy_status(head.status));
          if (cause.empty()) cause = "proxy_protocol_error";
          // The proxy's own words (Proxy-Status details: edge proxy names the rule there).
          std::string why;
          if (auto ps = head.headers.find("proxy-status"); ps != head.headers.end()) why = " (proxy-status: " + ps->second + ")";
          const std::string words = proxy_failure_words(head, t.authority());
          if (!words.empty()) l.evidence["reason"] = words;
          l = fail(std::move(l), cause, (words.empty() ? std::string() : words + ": ") + "the proxy answered " + h.summary + why);
          total_ms_ += h.duration_ms;
        }
      return;
    }
    if (o_.follow && h.status == Status::ok && head.status >= 300 && head.status < 400) {
      if (auto loc = head.headers.find("location"); loc != head.headers.end()) {
        auto next = resolve_location(t, loc->second);
        last_status_ = head.status;
        if (next) next_location_ = *next;
        else h = fail(std::move(h), "protocol_error", "the Location of this " + std::to_string(head.status) + " (" + loc->second + ") " + next.error());
      }
    }
    add(std::move(h));
  }

  static json::object family_evidence(const LayerResult& route, const LayerResult& tcp, double ms) {
    const LayerResult& decisive = route.status == Status::fail ? route : tcp;
    json::object o{{"status", status_name(decisive.status)}, {"summary", decisive.summary}, {"ms", std::round(ms * 100) / 100}};
    if (decisive.status == Status::fail) o["cause"] = decisive.cause;
    return o;
  }

  // IPv4 failed at `v4` (route or tcp) and IPv6 is being tried: wait for it. When it connected
  // it carries the trace (its route and tcp layers go in, IPv4's failure becomes the warning
  // ipv4_unreachable); false when there is no IPv6 attempt, or it failed too (then `v4`
  // stays the verdict, with both families in its evidence).
  bool other_works(LayerResult& v4, std::optional<IpAddr>& addr, RouteInfo& route, std::unique_ptr<Stream>& stream) {
    if (!other_) return false;
    auto st = std::move(other_);
    std::unique_lock lock(st->m);
    st->cv.wait(lock, [&] { return st->done; });
    json::object v4e{{"status", "fail"}, {"cause", v4.cause}, {"summary", v4.summary}, {"ms", std::round(v4.duration_ms * 100) / 100}};
    json::object v6e = family_evidence(st->route, st->tcp, st->ms);
    if (st->tcp.status != Status::ok) {
      v4.evidence["families"] = json::object{{"ipv4", v4e}, {"ipv6", v6e}};
      return false;
    }
    addr = st->addr;
    route = st->route_info;
    stream = std::move(st->stream);
    LayerResult tcp = std::move(st->tcp);
    tcp.evidence["families"] = json::object{{"ipv4", v4e}, {"ipv6", v6e}};
    tcp.warnings.emplace_back("ipv4_unreachable", "IPv4 failed (" + v4.summary + "); IPv6 " + st->addr.str() +
                                                      " works, and carries the rest of this trace");
    // The route shown is the one the trace goes on with: IPv6's.
    if (v4.name == "route") add(std::move(st->route));
    else
      for (auto& l : layers_)
        if (l.name == "route") l = std::move(st->route);
    add(std::move(tcp));
    return true;
  }

  // IPv4 connected: what happened to IPv6 meanwhile. Waited for no longer than a second from
  // its start: a family that has not connected by then is one a happy-eyeballs client gives up.
  void note_other_family(LayerResult& tcp) {
    if (!other_) return;
    auto st = std::move(other_);
    std::unique_lock lock(st->m);
    const auto grace = std::min<Millis>(o_.timeout, Millis(1000));
    const bool done = st->cv.wait_until(lock, st->start + grace, [&] { return st->done; });
    json::object v6e = done ? family_evidence(st->route, st->tcp, st->ms)
                            : json::object{{"status", "fail"}, {"cause", "timeout"},
                                           {"summary", "no answer to the SYN within " + format_duration(grace)}, {"ms", double(grace.count())}};
    json::object v4e{{"status", "ok"}, {"summary", tcp.summary}, {"ms", std::round(tcp.duration_ms * 100) / 100}};
    const bool v6_ok = done && st->tcp.status == Status::ok;
    json::object he{{"ipv4", v4e}, {"ipv6", v6e}};
    if (!v6_ok) {
      // The client tries IPv6 first and starts IPv4 when IPv6 has failed or after the delay.
      const double cost = std::min(v6e["ms"].to_number<double>(), kAttemptDelayMs);
      he["fallback_ms"] = std::round(cost * 100) / 100;
      tcp.warnings.emplace_back("ipv6_unreachable", "IPv6 " + st->addr.str() + " fails (" + v6e["summary"].as_string().c_str() +
                                                        ") while IPv4 works: a happy-eyeballs client falls back to IPv4 after " +
                                                        std::to_string(int(cost + 0.5)) + "ms");
    }
    tcp.evidence["families"] = std::move(he);
  }

  static std::string url_of(const Target& t) { return t.wants_http() ? t.scheme + "://" + t.authority() + t.path : t.text; }
  static json::array chain_urls(const std::vector<std::string>& urls) {
    json::array a;
    for (auto& u : urls) a.emplace_back(u);
    return a;
  }
  double hop_ms() const {
    double ms = 0;
    for (auto& l : layers_) ms += l.duration_ms;
    return ms;
  }

  // Every layer's warnings, in layer order: they never change the verdict or the exit code.
  std::vector<std::pair<std::string, std::string>> warnings_() const {
    std::vector<std::pair<std::string, std::string>> all;
    for (auto& l : layers_) all.insert(all.end(), l.warnings.begin(), l.warnings.end());
    return all;
  }

  json::array layers_json() const {
    json::array layers;
    for (auto& l : layers_) {
      json::object j;
      j["name"] = l.name;
      j["status"] = status_name(l.status);
      j["duration_ms"] = l.status == Status::not_run ? json::value(nullptr) : json::value(std::round(l.duration_ms * 100) / 100);
      if (l.status == Status::fail) j["cause"] = l.cause;
      if (!l.summary.empty()) j["summary"] = l.summary;
      j["evidence"] = l.evidence;
      layers.push_back(std::move(j));
    }
    return layers;
  }

  void print_json(const LayerResult* failed, int code) {
    json::object out;
    out["target"] = o_.target.text;
    out["layers"] = layers_json();
    if (o_.follow) {
      // The hops before the last, each with its own layers; the last hop's are `layers`.
      out["redirects"] = hops_;
      out["final_target"] = url_of(target_);
    }
    json::object verdict;
    if (failed) {
      verdict["layer"] = failed->name;
      verdict["cause"] = failed->cause;
      verdict["summary"] = failed->summary;
    } else {
      verdict["layer"] = nullptr;
      verdict["cause"] = "ok";
      verdict["summary"] = "every layer passed";
    }
    verdict["exit_code"] = code;
    json::array warnings;
    for (auto& [code_name, text] : warnings_()) warnings.emplace_back(code_name);
    verdict["warnings"] = std::move(warnings);
    out["verdict"] = std::move(verdict);
    if (!o_.capture.empty())
      out["capture"] = capture_note_.empty() ? json::value(json::object{{"file", o_.capture}, {"packets", capture_packets_}})
                                             : json::value(json::object{{"file", nullptr}, {"error", capture_note_}});
    std::string s = json_text(out);
    std::printf("%s\n", s.c_str());
  }

  void print_human(const LayerResult* failed, int code) {
    const bool tty = isatty(STDOUT_FILENO);
    auto paint = [&](const char* color, const std::string& s) { return tty ? std::string(color) + s + "\033[0m" : s; };
    for (size_t i = 0; i < hop_lines_.size(); ++i) std::printf("↪ redirect %zu: %s\n", i + 1, printable(hop_lines_[i]).c_str());
    if (!hop_lines_.empty()) std::printf("  then %s:\n", printable(url_of(target_)).c_str());
    for (auto& l : layers_) {
      std::string mark, time;
      switch (l.status) {
        case Status::ok: mark = paint("\033[32m", "✓"); break;
        case Status::fail: mark = paint("\033[31m", "✗"); break;
        default: mark = "–";
      }
      if (l.status == Status::ok || l.status == Status::fail) {
        char buf[32];
        if (l.duration_ms < 1000) std::snprintf(buf, sizeof buf, "%.0fms", l.duration_ms);
        else std::snprintf(buf, sizeof buf, "%.1fs", l.duration_ms / 1000);
        time = buf;
      }
      // Summaries and details quote peers (Server headers, reasons, names): escaped for the terminal.
      std::string what = l.status == Status::not_run ? "not run" : l.status == Status::skipped ? "skipped: " + l.summary : l.summary;
      std::printf("%s %-13s %7s  %s\n", mark.c_str(), l.name.c_str(), time.c_str(), printable(what).c_str());
      for (auto& d : l.details) std::printf("  %-13s %7s    %s\n", "", "", printable(d).c_str());
    }
    if (!o_.capture.empty()) {
      if (capture_note_.empty()) std::printf("capture: %ld packets written to %s\n", capture_packets_, printable(o_.capture).c_str());
      else std::printf("capture: %s\n", printable(capture_note_).c_str());
    }
    for (auto& [code_name, text] : warnings_())
      std::printf("%s %s: %s\n", paint("\033[1;33m", "WARN").c_str(), code_name.c_str(), printable(text).c_str());
    if (failed)
      std::printf("%s %s: %s [%s, exit %d]\n", paint("\033[1;31m", "FAIL").c_str(), failed->name.c_str(), printable(failed->summary).c_str(),
                  failed->cause.c_str(), code);
    else
      std::printf("%s every layer passed (%.0fms)\n", paint("\033[1;32m", "OK").c_str(), total_ms_);
  }

  const TraceOptions& o_;
  Target target_;  // the URL being traced: the given one, then each redirect's (-L)
  std::optional<std::string> next_location_;  // -L: where the last hop's 3xx points
  unsigned last_status_ = 0;
  json::array hops_;                    // -L: the hops before the last, as JSON
  std::vector<std::string> hop_lines_;  // and as human lines
  std::shared_ptr<OtherFamily> other_;  // the IPv6 attempt beside IPv4 (no -4/-6, both families)
  std::string auth_;  // Proxy-Authorization line when the proxy URL carries credentials
  std::unique_ptr<Capture> capture_;
  std::string capture_note_;  // why --capture was not possible
  long capture_packets_ = 0;
  std::vector<LayerResult> layers_;
  double total_ms_ = 0;
};

}  // namespace

int run_trace(const TraceOptions& o) {
  if (!o.netns.empty()) enter_netns(o.netns, "--netns");
  return Trace(o).run();
}

}  // namespace edge::trace
