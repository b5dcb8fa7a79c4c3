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
