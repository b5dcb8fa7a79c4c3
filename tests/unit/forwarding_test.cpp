// Proxy header rewriting and request framing checks.
#include <doctest/doctest.h>

#include <boost/beast/http/fields.hpp>

#include "core/http/forwarding.h"

using namespace edge;
namespace bhttp = boost::beast::http;

TEST_CASE("hop-by-hop headers go, including those Connection names, but not framing or forwarding ones") {
  http::Fields h;
  h.set("Connection", "keep-alive, X-Custom, Content-Length, X-Forwarded-For");
  h.set("Keep-Alive", "timeout=5");
  h.set("X-Custom", "secret");
  h.set("Content-Length", "5");
  h.set("X-Forwarded-For", "192.0.2.1");
  h.set("TE", "trailers");
  h.set("Upgrade", "websocket");
  h.set("Host", "example.com");
  http::strip_hop_by_hop(h, false);
  CHECK(h.count("Connection") == 0);
  CHECK(h.count("Keep-Alive") == 0);
  CHECK(h.count("X-Custom") == 0);
  CHECK(h.count("TE") == 0);
  CHECK(h.count("Upgrade") == 0);
  CHECK(h["Content-Length"] == "5");
  CHECK(h["X-Forwarded-For"] == "192.0.2.1");
  CHECK(h["Host"] == "example.com");
}

TEST_CASE("forwarding headers: untrusted peers are overwritten, trusted ones extended") {
  http::Fields h;
  h.set("Host", "site.test");
  h.set("X-Forwarded-For", "6.6.6.6");
  h.set("X-Real-IP", "6.6.6.6");
  h.set("Forwarded", "for=6.6.6.6");
  http::add_forwarding(h, {*IpAddr::parse("10.0.0.7"), false, "http", "1.1 edge"});
  CHECK(h["X-Forwarded-For"] == "10.0.0.7");
  CHECK(h["X-Real-IP"] == "10.0.0.7");
  CHECK(h["X-Forwarded-Proto"] == "http");
  CHECK(h["X-Forwarded-Host"] == "site.test");
  CHECK(h.count("Forwarded") == 0);
  CHECK(h["Via"] == "1.1 edge");

  http::Fields t;
  t.set("Host", "site.test");
  t.insert("X-Forwarded-For", "203.0.113.1");
  t.insert("X-Forwarded-For", "198.51.100.2");
  t.set("X-Forwarded-Proto", "https");
  t.set("Via", "1.1 lb");
  http::add_forwarding(t, {*IpAddr::parse("10.0.0.7"), true, "http", "1.1 edge"});
  CHECK(t["X-Forwarded-For"] == "203.0.113.1, 198.51.100.2, 10.0.0.7");
  CHECK(t["X-Forwarded-Proto"] == "https");
  CHECK(t["Via"] == "1.1 lb, 1.1 edge");
}

TEST_CASE("Via names a proxy by its received-by word, whatever the case or the list") {
  http::Fields h;
  h.insert("Via", "1.0 fred, 1.1 edge-3f9a2c1d");
  h.insert("Via", "HTTP/1.1 p.example:8080 (squid)");
  CHECK(http::via_names(h, "edge-3f9a2c1d"));
  CHECK(http::via_names(h, "EDGE-3F9A2C1D"));
  CHECK(http::via_names(h, "p.example:8080"));
  CHECK_FALSE(http::via_names(h, "edge-00000000"));
  CHECK_FALSE(http::via_names(h, "1.1"));
}
