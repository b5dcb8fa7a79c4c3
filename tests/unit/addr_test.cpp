// Addresses, CIDRs, ports, port ranges and endpoints.
#include <doctest/doctest.h>

#include "tests/unit/print_parsed.h"

#include "core/net/addr.h"

using namespace edge;

TEST_CASE("IP addresses round-trip in both families") {
  CHECK(IpAddr::parse("192.0.2.1")->str() == "192.0.2.1");
  CHECK(IpAddr::parse("0.0.0.0")->str() == "0.0.0.0");
  CHECK(IpAddr::parse("255.255.255.255")->str() == "255.255.255.255");
  CHECK(IpAddr::parse("2001:0db8:0000:0000:0000:0000:0000:0001")->str() == "2001:db8::1");
  CHECK(IpAddr::parse("::1")->family() == Family::v6);
  CHECK(IpAddr::v4(0x0a000001).str() == "10.0.0.1");
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "example.com", "1.2.3.4/8", ":::1", "1.2.3.4 "}) {
    CAPTURE(bad);
    CHECK_FALSE(IpAddr::parse(bad));
  }
}

TEST_CASE("CIDR containment") {
  auto net = *Cidr::parse("10.0.0.0/8");
  CHECK(net.contains(*IpAddr::parse("10.255.1.2")));
  CHECK_FALSE(net.contains(*IpAddr::parse("11.0.0.1")));
  CHECK_FALSE(net.contains(*IpAddr::parse("::ffff:10.0.0.1")));
  auto odd = *Cidr::parse("192.0.2.128/25");
  CHECK(odd.contains(*IpAddr::parse("192.0.2.200")));
  CHECK_FALSE(odd.contains(*IpAddr::parse("192.0.2.127")));
  auto host = *Cidr::parse("192.0.2.7");
  CHECK(host.prefix() == 32);
  CHECK(host.contains(*IpAddr::parse("192.0.2.7")));
  CHECK_FALSE(host.contains(*IpAddr::parse("192.0.2.8")));
  auto v6 = *Cidr::parse("2001:db8::/32");
  CHECK(v6.contains(*IpAddr::parse("2001:db8:ffff::1")));
  CHECK_FALSE(v6.contains(*IpAddr::parse("2001:db9::1")));
  CHECK(Cidr::parse("0.0.0.0/0")->contains(*IpAddr::parse("203.0.113.9")));
}

TEST_CASE("bad CIDRs say what is wrong") {
  CHECK(Cidr::parse("10.0.0.0/33").error().find("0-32") != std::string::npos);
  CHECK(Cidr::parse("2001:db8::/129").error().find("0-128") != std::string::npos);
  for (const char* bad : {"10.0.0.0/", "10.0.0.0/x", "/8", "10.0.0/8", "10.0.0.0/-1", "10.0.0.0/0008"}) {
    CAPTURE(bad);
    CHECK_FALSE(Cidr::parse(bad));
  }
}

TEST_CASE("ports and port ranges") {
  CHECK(*parse_port("1") == 1);
  CHECK(*parse_port("65535") == 65535);
  CHECK(parse_port("70000").error() == "port 70000 is out of range (1-65535)");
  CHECK(parse_port("0").error() == "port 0 is out of range (1-65535)");
  CHECK_FALSE(parse_port("http"));
  CHECK_FALSE(parse_port("99999999999999"));
  auto r = *PortRange::parse("8000-8080");
  CHECK(r.contains(8000));
  CHECK(r.contains(8080));
  CHECK_FALSE(r.contains(8081));
  CHECK(PortRange::parse("1024:65535")->lo() == 1024);
  CHECK(PortRange::parse("443")->hi() == 443);
  CHECK_FALSE(PortRange::parse("9000-8000"));
  CHECK_FALSE(PortRange::parse("1-70000"));
  CHECK_FALSE(PortRange::parse("-5"));
}

TEST_CASE("endpoints") {
  auto e = *Endpoint::parse("10.0.0.1:80");
  CHECK(e.host() == "10.0.0.1");
  CHECK(e.port() == 80);
  CHECK(e.host_is_literal());
  auto v6 = *Endpoint::parse("[2001:db8::1]:443");
  CHECK(v6.host() == "2001:db8::1");
  CHECK(v6.str() == "[2001:db8::1]:443");
  CHECK(Endpoint::parse("backend.local:8080")->host() == "backend.local");
  CHECK_FALSE(Endpoint::parse("backend.local:8080")->host_is_literal());
  CHECK(Endpoint::parse(":8080")->host().empty());
  CHECK(Endpoint::parse("8080")->port() == 8080);
  CHECK(Endpoint::parse("10.0.0.1:99999").error() == "port 99999 is out of range (1-65535)");
  CHECK_FALSE(Endpoint::parse("2001:db8::1:443"));
  CHECK_FALSE(Endpoint::parse("[10.0.0.1]:80"));
  CHECK_FALSE(Endpoint::parse("[2001:db8::1]443"));
  CHECK_FALSE(Endpoint::parse("bad host:80"));
  CHECK_FALSE(Endpoint::parse("host:"));
}

TEST_CASE("an endpoint without a port says the port is missing; a URL says it is not HOST:PORT") {
  for (const char* bad : {"host:", "backend.local", "10.0.0.1", "10.0.0.1:", "[2001:db8::1]", "[2001:db8::1]:"}) {
    CAPTURE(bad);
    auto r = Endpoint::parse(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("is missing the port") == 0);
  }
  for (const char* url : {"http://h:80", "https://10.0.0.1:443/", "tcp://h:1"}) {
    CAPTURE(url);
    auto r = Endpoint::parse(url);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("takes HOST:PORT") != std::string::npos);
    CHECK(r.error().find("not a URL") != std::string::npos);
  }
}
