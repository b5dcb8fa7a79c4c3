// The trace classifier: every cause from the observation that produces it, and the exit-code
// table's shape (one code per cause, inside its layer's band).
#include <doctest/doctest.h>

#include <cerrno>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <tuple>

#include "core/trace/causes.h"
#include "core/trace/classify.h"
#include "core/trace/dns_probe.h"
#include "core/trace/http_probe.h"
#include "core/trace/proxy_probe.h"

using namespace edge;
using namespace edge::trace;

namespace {
IcmpError icmp(uint8_t type, uint8_t code, bool v6 = false) {
  IcmpError e;
  e.v6 = v6;
  e.type = type;
  e.code = code;
  return e;
}
TcpObservation failed(int so_error, std::optional<IcmpError> e = std::nullopt) {
  TcpObservation o;
  o.so_error = so_error;
  o.icmp = e;
  return o;
}
}  // namespace

TEST_CASE("tcp: an RST and an ICMP port-unreachable give the same errno, different causes") {
  CHECK(classify_tcp(failed(ECONNREFUSED)) == "refused");
  CHECK(classify_tcp(failed(ECONNREFUSED, icmp(3, 3))) == "port_unreachable");
  CHECK(classify_tcp(failed(ECONNREFUSED, icmp(1, 4, true))) == "port_unreachable");
}

TEST_CASE("tcp: ICMP codes map to their causes") {
  for (int code : {9, 10, 13}) CHECK(classify_tcp(failed(EHOSTUNREACH, icmp(3, code))) == "admin_prohibited");
  CHECK(classify_tcp(failed(EACCES, icmp(1, 1, true))) == "admin_prohibited");
  CHECK(classify_tcp(failed(EHOSTUNREACH, icmp(3, 1))) == "host_unreachable");
  CHECK(classify_tcp(failed(EHOSTUNREACH, icmp(1, 3, true))) == "host_unreachable");
  for (int code : {0, 6, 11}) CHECK(classify_tcp(failed(ENETUNREACH, icmp(3, code))) == "net_unreachable");
  CHECK(classify_tcp(failed(ENETUNREACH, icmp(1, 0, true))) == "net_unreachable");
  CHECK(classify_tcp(failed(EHOSTUNREACH, icmp(11, 0))) == "host_unreachable");
}

TEST_CASE("tcp: silence is a timeout, a local drop, or a full conntrack table") {
  TcpObservation o;
  o.timed_out = true;
  CHECK(classify_tcp(o) == "timeout");
  o.syn_left = true;
  CHECK(classify_tcp(o) == "timeout");
  o.syn_left = false;
  CHECK(classify_tcp(o) == "local_drop");
  o.conntrack_drops = 2;
  CHECK(classify_tcp(o) == "conntrack_full");
  o.conntrack_drops = 0;
  CHECK(classify_tcp(o) == "local_drop");
  o.conntrack_insert_failed = 0;
  CHECK(classify_tcp(o) == "local_drop");
  o.conntrack_insert_failed = 3;  // a NAT tuple clash: the SYN dies before it leaves too
  CHECK(classify_tcp(o) == "nat_exhausted");
  o.conntrack_drops = 1;
  CHECK(classify_tcp(o) == "nat_exhausted");
}

TEST_CASE("tcp: success and unknown errors") {
  CHECK(classify_tcp(TcpObservation{}) == "");
  CHECK(classify_tcp(failed(EPROTO)) == "tcp_error");
  TcpObservation immediate;
  immediate.connect_errno = ENETUNREACH;
  CHECK(classify_tcp(immediate) == "net_unreachable");
}

TEST_CASE("route: route types from the lookup errno, then the neighbour") {
  CHECK(classify_route(0, false) == "");
  CHECK(classify_route(ENETUNREACH, false) == "no_route");
  CHECK(classify_route(EHOSTUNREACH, false) == "unreachable_route");
  CHECK(classify_route(EACCES, false) == "prohibit_route");
  CHECK(classify_route(EINVAL, false) == "blackhole_route");
  CHECK(classify_route(0, true) == "gateway_unreachable");
}

TEST_CASE("dns: rcodes beat getaddrinfo's EAI_AGAIN") {
  CHECK(classify_dns({0, {}, false, false}) == "");
  CHECK(classify_dns({0, {0}, false, true}) == "nodata");
  CHECK(classify_dns({-2, {3}, false, false}) == "nxdomain");
  CHECK(classify_dns({-3, {2}, false, false}) == "servfail");
  CHECK(classify_dns({-3, {5}, false, false}) == "refused");
  CHECK(classify_dns({-3, {}, true, false}) == "timeout");
  CHECK(classify_dns({-5, {0}, false, false}) == "nodata");
  CHECK(classify_dns({-3, {3}, true, false}) == "nxdomain");
  CHECK(classify_dns({-3, {1}, false, false}) == "dns_error");
}

TEST_CASE("dns: a truncated UDP answer whose TCP retry failed") {
  CHECK(classify_dns({-3, {}, false, false, true}) == "truncated");
  CHECK(classify_dns({-3, {}, true, false, true}) == "truncated");  // not a plain timeout
  CHECK(classify_dns({-3, {3}, false, false, true}) == "nxdomain");  // a definite answer elsewhere wins
  CHECK(classify_dns({0, {}, false, false, true}) == "");            // the system resolver coped
}

TEST_CASE("tls: every verification error is kept, the most telling one is the cause") {
  CHECK(classify_tls({}) == "");
  CHECK(classify_tls({false, true, false, {}}) == "protocol_mismatch");
  CHECK(classify_tls({true, false, false, {}}) == "timeout");
  CHECK(classify_tls({false, false, true, {}}) == "handshake_failure");
  CHECK(classify_tls({false, false, false, {10}}) == "cert_expired");
  CHECK(classify_tls({false, false, false, {62, 10}}) == "cert_expired");
  CHECK(classify_tls({false, false, false, {9}}) == "cert_not_yet_valid");
  CHECK(classify_tls({false, false, false, {18, 62}}) == "self_signed");
  CHECK(classify_tls({false, false, false, {20}}) == "untrusted_chain");
  CHECK(classify_tls({false, false, false, {21}}) == "untrusted_chain");
  CHECK(classify_tls({false, false, false, {62}}) == "hostname_mismatch");
  CHECK(classify_tls({false, false, false, {64}}) == "hostname_mismatch");
}

TEST_CASE("tls: a hang-up mid-handshake is a reset, an alert is the peer's refusal") {
  TlsObservation o;
  o.handshake_failed = true;
  o.reset = true;
  CHECK(classify_tls(o) == "reset");
  o.alert = 40;  // an alert before the close: the server said why
  CHECK(classify_tls(o) == "handshake_failure");
  o.alert = -1;
  o.not_tls = true;
  CHECK(classify_tls(o) == "protocol_mismatch");
  o.not_tls = false;
  o.verify_errors = {10};  // a certificate problem seen before the reset is the story
  CHECK(classify_tls(o) == "cert_expired");
  TlsObservation late;  // the reset came, but not during the handshake: no failure
  late.reset = true;
  CHECK(classify_tls(late) == "");
}

TEST_CASE("tls: a certificate asked for and not sent; a certificate rejected") {
  TlsObservation o;
  o.handshake_failed = true;
  o.alert = 116;  // TLS 1.3 certificate_required
  CHECK(classify_tls(o) == "client_cert_required");
  o.alert = 40;  // TLS 1.2: handshake_failure after an unanswered CertificateRequest
  o.cert_requested = true;
  CHECK(classify_tls(o) == "client_cert_required");
  o.alert = -1;  // or the server just hangs up
  o.reset = true;
  CHECK(classify_tls(o) == "client_cert_required");
  o.cert_sent = true;  // sent and rejected: the server's alert names why
  o.reset = false;
  o.alert = 48;
  CHECK(classify_tls(o) == "handshake_failure");
  TlsObservation optional;  // asked for, none sent, and the server carried on
  optional.cert_requested = true;
  CHECK(classify_tls(optional) == "");
}

TEST_CASE("http and proxy statuses") {
  CHECK(classify_http_status(200) == "");
  CHECK(classify_http_status(301) == "");
  CHECK(classify_http_status(502) == "bad_gateway");
  CHECK(classify_http_status(503) == "service_unavailable");
  CHECK(classify_http_status(504) == "gateway_timeout");
  CHECK(classify_http_status(404) == "http_error");
  CHECK(classify_http_status(500) == "http_error");
  CHECK(classify_proxy_status(200) == "");
  CHECK(classify_proxy_status(407) == "proxy_auth_required");
  CHECK(classify_proxy_status(403) == "proxy_denied");
  CHECK(classify_proxy_status(500) == "proxy_upstream_error");
  CHECK(classify_proxy_status(502) == "proxy_upstream_error");
  CHECK(classify_proxy_status(301) == "proxy_protocol_error");
}

TEST_CASE("every cause has one exit code inside its layer's band") {
  std::set<int> codes;
  const auto& layers = layer_names();
  for (const auto& c : all_causes()) {
    CAPTURE(c.cause);
    CHECK(codes.insert(c.exit_code).second);
    auto it = std::find(layers.begin(), layers.end(), c.layer);
    REQUIRE(it != layers.end());
    const int band = 10 * int(it - layers.begin() + 1);
    CHECK(c.exit_code >= band);
    CHECK(c.exit_code < band + 10);
  }
  // x0 is a band's last free code: taken only once x1-x9 are all in use.
  for (int band = 10; band <= 70; band += 10)
    if (codes.count(band)) {
      CAPTURE(band);
      for (int c = band + 1; c < band + 10; ++c) CHECK(codes.count(c));
    }
  CHECK(exit_code_for("tls", "cert_expired") == 61);
  CHECK_FALSE(exit_code_for("tls", "nxdomain"));
}

TEST_CASE("body: an end before the framing's end is truncated_body; silence is a timeout") {
  CHECK(classify_body({true, false, false}) == "");
  CHECK(classify_body({false, true, false}) == "truncated_body");
  CHECK(classify_body({false, false, true}) == "timeout");
  CHECK(classify_body({false, false, false}) == "protocol_error");
}

TEST_CASE("body counter: Content-Length, chunked and close-delimited bodies, whole and cut") {
  using S = BodyCounter::State;
  SUBCASE("Content-Length reached, in pieces") {
    BodyCounter b;
    b.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(b.state() == S::reading);
    CHECK(b.bytes() == 3);
    b.feed("defghij");
    CHECK(b.state() == S::complete);
    CHECK(b.bytes() == 10);
    CHECK(b.expected() == 10u);
  }
  SUBCASE("Content-Length not reached before the close") {
    BodyCounter b;
    b.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    b.eof();
    CHECK(b.state() == S::truncated);
    CHECK(b.bytes() == 3);
  }
  SUBCASE("chunked with its final chunk, split inside a chunk header") {
    BodyCounter b;
    b.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    b.feed("3\r");
    b.feed("\nabc\r\n0\r\n\r\n");
    CHECK(b.state() == S::complete);
    CHECK(b.bytes() == 8);
    CHECK(b.chunked());
    CHECK_FALSE(b.expected());
  }
  SUBCASE("chunked without its final chunk") {
    BodyCounter b;
    b.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    b.eof();
    CHECK(b.state() == S::truncated);
    CHECK(b.bytes() == 5);
  }
  SUBCASE("a body delimited by the close is whole at the close") {
    BodyCounter b;
    b.feed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome bytes");
    CHECK(b.state() == S::reading);
    b.eof();
    CHECK(b.state() == S::complete);
    CHECK(b.bytes() == 10);
  }
  SUBCASE("a broken chunk size") {
    BodyCounter b;
    b.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n");
    CHECK(b.state() == S::malformed);
  }
  SUBCASE("no body: 204") {
    BodyCounter b;
    b.feed("HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(b.state() == S::complete);
    CHECK(b.bytes() == 0);
  }
}

TEST_CASE("redirects: a URL seen before, or one redirect too many, is a loop") {
  const std::vector<std::string> seen{"http://a/", "http://a/2"};
  CHECK(classify_redirect(seen, "http://a/3", 10) == "");
  CHECK(classify_redirect(seen, "http://a/", 10) == "redirect_loop");
  CHECK(classify_redirect(seen, "http://a/2", 10) == "redirect_loop");
  CHECK(classify_redirect(seen, "http://a/3", 2) == "");  // the second redirect, two allowed
  CHECK(classify_redirect(seen, "http://a/3", 1) == "redirect_loop");
  CHECK(classify_redirect({"http://a/"}, "http://a/2", 0) == "redirect_loop");
}

TEST_CASE("a proxy's 5xx in plain words: Proxy-Status, X-Squid-Error, tinyproxy") {
  ResponseHead h;
  h.status = 502;
  CHECK(proxy_failure_words(h, "www.test:80") == "");
  h.headers["proxy-status"] = "edge; error=connection_refused; details=\"10.99.2.2:9 refused the connection\"";
  CHECK(proxy_failure_words(h, "www.test:9") == "www.test:9 refused the proxy's connection (Proxy-Status connection_refused)");
  h.headers["proxy-status"] = "edge; error=dns_error";
  CHECK(proxy_failure_words(h, "nx.test:80") == "the proxy could not resolve the name of nx.test:80 (Proxy-Status dns_error)");
  h.headers["proxy-status"] = "nginx; error=something_new";  // unknown type: fall through
  h.headers["x-squid-error"] = "ERR_DNS_FAIL 0";
  CHECK(proxy_failure_words(h, "nx.test:80") == "the proxy could not resolve the name of nx.test:80 (Squid ERR_DNS_FAIL)");
  h.headers["x-squid-error"] = "ERR_CONNECT_FAIL 111";
  CHECK(proxy_failure_words(h, "www.test:9") == "the proxy could not connect to www.test:9 (Squid ERR_CONNECT_FAIL)");
  ResponseHead t;
  t.status = 500;
  t.reason = "Unable to connect";
  t.headers["server"] = "tinyproxy/1.11.1";
  CHECK(proxy_failure_words(t, "www.test:9") == "the proxy could not connect to www.test:9 (tinyproxy: Unable to connect)");
  t.headers["server"] = "nginx";  // the same words from someone else mean nothing
  CHECK(proxy_failure_words(t, "www.test:9") == "");
}

TEST_CASE("nginx's 400 about the client certificate is recognised, nothing else is") {
  ResponseHead h;
  h.status = 400;
  h.received = "HTTP/1.1 400 Bad Request\r\n\r\n<center>No required SSL certificate was sent</center>";
  CHECK(client_cert_complaint(h) == "No required SSL certificate was sent");
  h.received = "HTTP/1.1 400 Bad Request\r\n\r\n<center>The SSL certificate error</center>";
  CHECK(client_cert_complaint(h) == "The SSL certificate error");
  h.received = "HTTP/1.1 400 Bad Request\r\n\r\nbad request";
  CHECK(client_cert_complaint(h) == "");
  h.status = 200;
  h.received = "HTTP/1.1 200 OK\r\n\r\nNo required SSL certificate was sent";
  CHECK(client_cert_complaint(h) == "");  // a page that merely quotes it
}

TEST_CASE("/etc/hosts: the addresses of a name, aliases and case included, comments not") {
  const char* hosts =
      "127.0.0.1 localhost\n"
      "# 10.0.0.1 www.test\n"
      "10.99.2.53\tWWW.test www  # the test entry\n"
      "fd00::5 www.test.\n"
      "10.99.2.53 www.test\n"
      "not-an-address www.test\n"
      "10.0.0.7 other.test www.test.example\n";
  const auto a = hosts_addresses(hosts, "www.test");
  REQUIRE(a.size() == 2);
  CHECK(a[0].str() == "10.99.2.53");
  CHECK(a[1].str() == "fd00::5");
  CHECK(hosts_addresses(hosts, "www").size() == 1);
  CHECK(hosts_addresses(hosts, "nothere.test").empty());
  CHECK(hosts_addresses(hosts, "test").empty());
}

TEST_CASE("the man page's EXIT STATUS table is the cause table") {
  // Every `.B "NN  cause"` entry under a `.SS "layer (N0\-N9)"` heading of man/edge-trace.1.
  std::ifstream man(EDGE_SOURCE_DIR "/man/edge-trace.1");
  REQUIRE(man);
  const std::regex section(R"re(^\.SS "([a-z\\-]+) \([0-9]+\\-[0-9]+\)"$)re");
  const std::regex entry(R"re(^\.B "([0-9]+)  ([a-z_0-9]+)"$)re");
  std::set<std::tuple<std::string, std::string, int>> in_man, in_table;
  std::string line, layer;
  bool exit_status = false;
  std::smatch m;
  while (std::getline(man, line)) {
    if (line.rfind(".SH ", 0) == 0) exit_status = line == ".SH EXIT STATUS";
    if (!exit_status) continue;
    if (std::regex_match(line, m, section)) layer = std::regex_replace(m[1].str(), std::regex(R"(\\-)"), "-");
    else if (std::regex_match(line, m, entry)) in_man.emplace(layer, m[2].str(), std::stoi(m[1].str()));
  }
  for (const auto& c : all_causes()) in_table.emplace(std::string(c.layer), std::string(c.cause), c.exit_code);
  CHECK(in_table.size() > 40);
  for (const auto& e : in_table) {
    CAPTURE(std::get<1>(e));
    CHECK_MESSAGE(in_man.count(e), "in causes.cpp, not in the man page: ", std::get<0>(e), " ", std::get<2>(e));
  }
  for (const auto& e : in_man) {
    CAPTURE(std::get<1>(e));
    CHECK_MESSAGE(in_table.count(e), "in the man page, not in causes.cpp: ", std::get<0>(e), " ", std::get<2>(e));
  }
}
