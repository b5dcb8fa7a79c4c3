// Trace targets and the error-queue parser.
#include <doctest/doctest.h>
#include <ctime>  // linux/errqueue.h needs struct timespec
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "core/net/errqueue.h"
#include "core/trace/target.h"
#include "tests/unit/print_parsed.h"

using namespace edge;
using namespace edge::trace;

TEST_CASE("URL targets") {
  auto t = *parse_target("https://www.test/health?x=1");
  CHECK(t.scheme == "https");
  CHECK(t.host == "www.test");
  CHECK(t.port == 443);
  CHECK(t.path == "/health?x=1");
  CHECK(t.authority() == "www.test");
  CHECK(t.wants_tls());
  CHECK(t.wants_http());
  auto h = *parse_target("http://10.99.2.2:8080");
  CHECK(h.port == 8080);
  CHECK(h.path == "/");
  CHECK(h.host_is_literal);
  CHECK(h.authority() == "10.99.2.2:8080");
  auto v6 = *parse_target("http://[fd99:2::2]/");
  CHECK(v6.host == "fd99:2::2");
  CHECK(v6.authority() == "[fd99:2::2]");
  CHECK(parse_target("HTTPS://Example.com")->scheme == "https");
}

TEST_CASE("tls:// and HOST:PORT targets need a port") {
  auto t = *parse_target("tls://mail.test:465");
  CHECK(t.scheme == "tls");
  CHECK(t.wants_tls());
  CHECK_FALSE(t.wants_http());
  CHECK(t.authority() == "mail.test:465");
  auto p = *parse_target("10.0.0.5:5432");
  CHECK(p.scheme == "tcp");
  CHECK(p.port == 5432);
  CHECK(parse_target("[fd99::1]:22")->host == "fd99::1");
}

TEST_CASE("bad targets say what is accepted") {
  for (const char* bad : {"", "example.com", "ftp://example.com/", "http://", "https://host:70000/", "tls://host", "host:0", "http://[zz]/", "http://[v7.x]/", "http://h:99999999999/"}) {
    CAPTURE(bad);
    auto r = parse_target(bad);
    CHECK_FALSE(r.has_value());
  }
  CHECK(parse_target("ftp://x/").error().find("expected http, https or tls") != std::string::npos);
}

TEST_CASE("IPv4-mapped IPv6 literals are IPv4 for every layer") {
  for (const char* text : {"http://[::ffff:127.0.0.1]:8080/", "[::ffff:127.0.0.1]:8080", "tls://[::FFFF:7f00:1]:8080",
                           "https://[0:0:0:0:0:ffff:127.0.0.1]:8080/"}) {
    CAPTURE(text);
    auto t = parse_target(text);
    REQUIRE(t);
    REQUIRE(t->address);
    CHECK(t->address->family() == Family::v4);
    CHECK(t->address->str() == "127.0.0.1");
    CHECK(t->host_is_literal);
  }
  // The Host header keeps what was typed, as curl sends it.
  CHECK(parse_target("http://[::ffff:127.0.0.1]:8080/")->authority() == "[::ffff:127.0.0.1]:8080");
  // Plain IPv6 stays IPv6; so do the other ::ffff forms that are not mapped addresses.
  CHECK(parse_target("http://[fd99:2::2]/")->address->family() == Family::v6);
  CHECK(parse_target("http://[::ffff:0:127.0.0.1]/")->address->family() == Family::v6);
  CHECK(parse_target("http://[64:ff9b::127.0.0.1]/")->address->family() == Family::v6);
  CHECK(address_literal("::ffff:10.0.0.1")->str() == "10.0.0.1");
  CHECK(address_literal("10.0.0.1")->str() == "10.0.0.1");
  CHECK_FALSE(address_literal("example.com"));
  CHECK_FALSE(parse_target("http://www.test/")->address);
}

TEST_CASE("percent-encoded and NUL bytes in a host are refused, not decoded") {
  for (const char* bad : {"http://127.0.0.1%41:8080/", "http://localhost%00x:8080/", "https://%65xample.com/",
                          "http://exa%2Emple.com/", "http://a%0d%0aHost:x/", "tls://host%41:443", "host%00:80"}) {
    const std::string text = bad;
    CAPTURE(text);
    auto r = parse_target(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("percent-encoded") != std::string::npos);
  }
  // Percent-encoding stays allowed where it belongs: the path and query.
  CHECK(parse_target("http://h.test/a%20b?q=%41")->path == "/a%20b?q=%41");
}

TEST_CASE("malformed host names are refused before any DNS") {
  const std::string label63(63, 'a'), label64(64, 'a');
  std::string name253, name254;
  while (name253.size() < 253) name253 += (name253.empty() ? "" : ".") + std::string(std::min<size_t>(63, 253 - name253.size() - (name253.empty() ? 0 : 1)), 'b');
  REQUIRE(name253.size() == 253);
  name254 = name253.substr(0, 252) + ".c";
  CHECK(parse_target("http://" + label63 + ".test/"));
  CHECK(parse_target("http://" + name253 + "/"));
  CHECK(parse_target("http://" + name253 + "./"));  // the root dot does not count
  CHECK(parse_target("https://example.com./")->host == "example.com.");
  CHECK(parse_target("http://_srv.example/"));
  struct Bad {
    std::string text, why;
  };
  const Bad bad[] = {
      {"http://a..b/", "empty label"},
      {"http://.a/", "empty label"},
      {"http://a.b../", "empty label"},
      {"a..b:80", "empty label"},
      {"tls://a..b:443", "empty label"},
      {"http://" + label64 + ".test/", "longer than 63"},
      {label64 + ":80", "longer than 63"},
      {"http://" + name254 + "/", "longer than 253"},
      {"http://-a.test/", "starts or ends with '-'"},
      {"http://a-.test/", "starts or ends with '-'"},
      {"http://a!b.test/", "cannot be in a host name ('!')"},
      {"http://127.1/", "looks like an IPv4 address"},
      {"http://1.2.3.4.5/", "looks like an IPv4 address"},
      {"http://0x7f.1/", "looks like an IPv4 address"},
      {"http://4294967295/", "looks like an IPv4 address"},
      {"http://h:/", "missing the port"},
      {"tls://host", "missing the port"},
      {"host.test", "missing the port"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.text);
    auto r = parse_target(b.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().find(b.why) != std::string::npos);
  }
}

TEST_CASE("international names become punycode or are refused with the reason") {
  auto t = parse_target("http://b\xc3\xbc" "cher.example/");
  REQUIRE(t);
  CHECK(t->host == "xn--bcher-kva.example");
  CHECK(t->idn == "b\xc3\xbc" "cher.example");
  CHECK(t->authority() == "xn--bcher-kva.example");
  CHECK(parse_target("tls://b\xc3\xbc" "cher.example:465")->host == "xn--bcher-kva.example");
  CHECK(parse_target("B\xc3\x9c" "CHER.example:80")->host == "xn--bcher-kva.example");  // case-folded
  auto snowman = parse_target("http://\xe2\x98\x83.example/");  // not allowed in IDNA2008
  REQUIRE_FALSE(snowman);
  CHECK(snowman.error().find("not a valid international name") != std::string::npos);
  auto broken = parse_target("http://b\xff\xfe" "cher.example/");  // not UTF-8
  REQUIRE_FALSE(broken);
  CHECK(broken.error().find("international name") != std::string::npos);
}

TEST_CASE("error queue: an ICMP port-unreachable from a router") {
  alignas(cmsghdr) unsigned char buf[CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in))] = {};
  auto* c = reinterpret_cast<cmsghdr*>(buf);
  c->cmsg_level = SOL_IP;
  c->cmsg_type = IP_RECVERR;
  c->cmsg_len = CMSG_LEN(sizeof(sock_extended_err) + sizeof(sockaddr_in));
  sock_extended_err ee{};
  ee.ee_errno = ECONNREFUSED;
  ee.ee_origin = SO_EE_ORIGIN_ICMP;
  ee.ee_type = 3;
  ee.ee_code = 3;
  std::memcpy(CMSG_DATA(c), &ee, sizeof ee);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(0x0a630101);  // 10.99.1.1
  std::memcpy(CMSG_DATA(c) + sizeof ee, &from, sizeof from);
  auto e = parse_recverr_control(buf, sizeof buf);
  REQUIRE(e);
  CHECK(e->type == 3);
  CHECK(e->code == 3);
  CHECK(e->error == ECONNREFUSED);
  REQUIRE(e->offender);
  CHECK(e->offender->str() == "10.99.1.1");
}

TEST_CASE("error queue: truncated and foreign messages are ignored") {
  unsigned char junk[64];
  std::memset(junk, 0xff, sizeof junk);
  CHECK_FALSE(parse_recverr_control(junk, sizeof junk));
  CHECK_FALSE(parse_recverr_control(junk, 3));
  alignas(cmsghdr) unsigned char buf[CMSG_SPACE(sizeof(sock_extended_err))] = {};
  auto* c = reinterpret_cast<cmsghdr*>(buf);
  c->cmsg_level = SOL_IP;
  c->cmsg_type = IP_RECVERR;
  c->cmsg_len = CMSG_LEN(sizeof(sock_extended_err));
  sock_extended_err ee{};
  ee.ee_origin = SO_EE_ORIGIN_LOCAL;  // not an ICMP
  std::memcpy(CMSG_DATA(c), &ee, sizeof ee);
  CHECK_FALSE(parse_recverr_control(buf, sizeof buf));
}

TEST_CASE("redirect locations resolve against the URL followed") {
  const auto base = *parse_target("http://www.test:8080/a/b?q=1");
  CHECK(*resolve_location(base, "/loop/2") == "http://www.test:8080/loop/2");
  CHECK(*resolve_location(base, "c") == "http://www.test:8080/a/c");
  CHECK(*resolve_location(base, "../up#frag") == "http://www.test:8080/up");
  CHECK(*resolve_location(base, "?r=2") == "http://www.test:8080/a/b?r=2");
  CHECK(*resolve_location(base, "//other.test/x") == "http://other.test/x");
  CHECK(*resolve_location(base, "https://secure.test/") == "https://secure.test/");
  const auto v6 = *parse_target("https://[fd99:2::2]/x");
  CHECK(*resolve_location(v6, "y") == "https://[fd99:2::2]/y");
  CHECK_FALSE(resolve_location(base, "http://bad host/"));
}
