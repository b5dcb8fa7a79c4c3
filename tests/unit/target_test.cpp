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
  for (const char* bad : {"", "example.com", "ftp://example.com/", "http://", "https://host:70000/", "tls://host", "host:0", "http://[zz]/"}) {
    CAPTURE(bad);
    auto r = parse_target(bad);
    CHECK_FALSE(r.has_value());
  }
  CHECK(parse_target("ftp://x/").error().find("expected http, https or tls") != std::string::npos);
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
