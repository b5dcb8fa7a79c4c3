// The rproxy access-log formats and the Prometheus rendering of its counters.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <regex>

#include "engines/rproxy/access_log.h"
#include "engines/rproxy/metrics.h"

using namespace edge;
using namespace edge::rproxy;

namespace {
AccessRecord sample() {
  AccessRecord r;
  r.time = 1700000000;  // 2023-11-14T22:13:20Z
  r.client = *IpAddr::parse("192.0.2.7");
  r.method = "GET";
  r.target = "/a?b=1";
  r.status = 200;
  r.bytes = 1234;
  r.user_agent = "curl/8.0";
  r.backend = "10.0.0.1:80";
  r.connect_ms = 0.25;
  r.first_byte_ms = 1.5;
  r.total_ms = 2.04;
  r.cause = "keepalive";
  return r;
}
}  // namespace

TEST_CASE("combined access log: request line, status, bytes, agent, backend, timings, cause") {
  const std::string line = format_access(sample(), LogFormat::combined);
  CHECK(std::regex_match(line, std::regex(R"(192\.0\.2\.7 - - \[\d\d/\w{3}/2023:\d\d:13:20 [+-]\d{4}\] "GET /a\?b=1 HTTP/1\.1" 200 1234 "-" "curl/8\.0" )"
                                          R"(backend=10\.0\.0\.1:80 connect_ms=0\.2 first_byte_ms=1\.5 total_ms=2\.0 cause=keepalive\n)")));
}

TEST_CASE("combined access log: quotes and control bytes cannot forge fields") {
  AccessRecord r = sample();
  r.user_agent = "evil\" 200 \"x\n";
  const std::string line = format_access(r, LogFormat::combined);
  CHECK(line.find("\"evil\\x22 200 \\x22x\\x0A\"") != std::string::npos);
  CHECK(line.find('\n') == line.size() - 1);
}

TEST_CASE("combined access log: no request line, TCP connections, no backend") {
  AccessRecord r;
  r.client = *IpAddr::parse("2001:db8::1");
  r.status = 400;
  r.cause = "bad_request@header";
  const std::string line = format_access(r, LogFormat::combined);
  CHECK(line.find("2001:db8::1 - - [") == 0);
  CHECK(line.find("] \"-\" 400 0 \"-\" \"-\" backend=- cause=bad_request@header\n") != std::string::npos);
  r.tcp = true;
  CHECK(format_access(r, LogFormat::combined).find("\"TCP\"") != std::string::npos);
}

TEST_CASE("json access log: one object per line, nulls for what did not happen") {
  const std::string line = format_access(sample(), LogFormat::json);
  REQUIRE(line.back() == '\n');
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  const auto v = boost::json::parse(line).as_object();
  CHECK(v.at("time").as_string() == "2023-11-14T22:13:20Z");
  CHECK(v.at("client").as_string() == "192.0.2.7");
  CHECK(v.at("method").as_string() == "GET");
  CHECK(v.at("target").as_string() == "/a?b=1");
  CHECK(v.at("version").as_string() == "1.1");
  CHECK(v.at("status").to_number<int>() == 200);
  CHECK(v.at("bytes").to_number<int>() == 1234);
  CHECK(v.at("backend").as_string() == "10.0.0.1:80");
  CHECK(v.at("first_byte_ms").to_number<double>() == doctest::Approx(1.5));
  CHECK(v.at("cause").as_string() == "keepalive");
  CHECK_FALSE(std::regex_search(line, std::regex(R"(\d[eE][+-]?\d)")));  // plain numbers, no exponent form
  AccessRecord r;
  r.status = 431;
  r.cause = "header_too_large@header";
  const auto w = boost::json::parse(format_access(r, LogFormat::json)).as_object();
  CHECK(w.at("method").is_null());
  CHECK(w.at("backend").is_null());
  CHECK(w.at("total_ms").is_null());
}

TEST_CASE("json access log: bytes that are not UTF-8 become U+FFFD, valid UTF-8 stays") {
  AccessRecord r = sample();
  r.target = "/caf\xC3\xA9/\xFF\xC0\xAF";  // é, then a stray byte and an overlong '/'
  r.user_agent = "agent\xE2\x82";           // a truncated sequence
  const std::string line = format_access(r, LogFormat::json);
  const auto v = boost::json::parse(line).as_object();  // throws on invalid UTF-8
  CHECK(v.at("target").as_string() == "/caf\xC3\xA9/\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(v.at("user_agent").as_string() == "agent\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("metrics: requests by backend and status class, histogram cumulative, gauges") {
  Metrics m(2);
  m.request(0, 200, 0.003);
  m.request(0, 204, 0.02);
  m.request(1, 502, 0.2);
  m.request(-1, 503, 0);
  m.request(0, 0, 1.0);  // the client left: no class, still timed
  m.bytes(100, 7);
  m.connection();
  m.tls_failure();
  const std::string t = m.text({{"a:80", true, 1}, {"b\"x:80", false, 0}}, 3);
  CHECK(t.find("edge_rproxy_requests_total{backend=\"a:80\",code=\"2xx\"} 2\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_requests_total{backend=\"b\\\"x:80\",code=\"5xx\"} 1\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_requests_total{backend=\"-\",code=\"5xx\"} 1\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_request_duration_seconds_bucket{le=\"0.005\"} 2\n") != std::string::npos);  // 0.003 and 0
  CHECK(t.find("edge_rproxy_request_duration_seconds_bucket{le=\"0.025\"} 3\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_request_duration_seconds_bucket{le=\"1\"} 5\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_request_duration_seconds_bucket{le=\"+Inf\"} 5\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_request_duration_seconds_count 5\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_request_duration_seconds_sum 1.223000\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_connections_active 3\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_backend_up{backend=\"b\\\"x:80\"} 0\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_backend_active{backend=\"a:80\"} 1\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_bytes_total{direction=\"to_client\"} 100\n") != std::string::npos);
  CHECK(t.find("edge_rproxy_tls_handshake_failures_total 1\n") != std::string::npos);
  CHECK(t.find("# TYPE edge_rproxy_request_duration_seconds histogram\n") != std::string::npos);
}
