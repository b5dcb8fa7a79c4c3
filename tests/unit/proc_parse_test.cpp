// The /proc/net/nf_conntrack line parser against lines captured from a 6.x kernel.
#include <doctest/doctest.h>

#include "tests/unit/print_parsed.h"
#include <netinet/in.h>

#include "core/conntrack/proc_parse.h"

using namespace edge;

TEST_CASE("a TCP line with accounting, assured") {
  Flow f;
  auto r = parse_proc_conntrack_line(
      "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.1.2 dst=10.0.2.2 sport=40000 dport=80 packets=6 bytes=400 "
      "src=10.0.2.2 dst=10.0.1.2 sport=80 dport=40000 packets=4 bytes=300 [ASSURED] mark=7 zone=0 use=2\n",
      f);
  REQUIRE(r);
  CHECK(f.family == Family::v4);
  CHECK(f.proto == IPPROTO_TCP);
  CHECK(f.state == "ESTABLISHED");
  CHECK(f.timeout == 431999);
  CHECK(f.orig.src.str() == "10.0.1.2");
  CHECK(f.orig.dport == 80);
  CHECK(f.reply.sport == 80);
  CHECK(f.assured);
  CHECK_FALSE(f.unreplied);
  CHECK(f.mark == 7);
  REQUIRE(f.orig_counters);
  CHECK(f.orig_counters->bytes == 400);
  CHECK(f.reply_counters->packets == 4);
  CHECK_FALSE(f.snat);
  CHECK_FALSE(f.dnat);
}

TEST_CASE("UDP unreplied, masqueraded") {
  Flow f;
  REQUIRE(parse_proc_conntrack_line(
      "ipv4     2 udp      17 28 src=10.0.1.2 dst=198.51.100.53 sport=5353 dport=53 [UNREPLIED] "
      "src=198.51.100.53 dst=203.0.113.1 sport=53 dport=61000 mark=0 zone=0 use=2",
      f));
  CHECK(f.state.empty());
  CHECK(f.unreplied);
  CHECK(f.snat);
  CHECK_FALSE(f.dnat);
}

TEST_CASE("ICMP and IPv6 in full /proc form") {
  Flow f;
  REQUIRE(parse_proc_conntrack_line(
      "ipv4     2 icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=4242 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 "
      "id=4242 mark=0 zone=0 use=2",
      f));
  CHECK(f.orig.icmp_type == 8);
  CHECK(f.orig.icmp_id == 4242);
  CHECK(f.reply.icmp_type == 0);
  REQUIRE(parse_proc_conntrack_line(
      "ipv6     10 tcp      6 119 TIME_WAIT src=2001:0db8:0000:0000:0000:0000:0000:0001 "
      "dst=2001:0db8:0000:0000:0000:0000:0000:0002 sport=1 dport=2 src=2001:0db8:0000:0000:0000:0000:0000:0002 "
      "dst=2001:0db8:0000:0000:0000:0000:0000:0001 sport=2 dport=1 [ASSURED] mark=0 zone=0 use=2",
      f));
  CHECK(f.family == Family::v6);
  CHECK(f.orig.src.str() == "2001:db8::1");
  CHECK(f.state == "TIME_WAIT");
}

TEST_CASE("malformed lines are refused, not half-parsed") {
  Flow f;
  for (const char* bad : {
           "",
           "ipv5 2 tcp 6 1 ESTABLISHED",
           "ipv4 2 tcp 6 x ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1",
           "ipv4 2 tcp 6 1 BOGUS src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1",
           "ipv4 2 tcp 6 1 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2",
           "ipv4 2 tcp 6 1 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=70000 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1",
           "ipv4 2 tcp 6 1 ESTABLISHED src=::1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1",
           "ipv4 2 tcp 6 1 src=1.1.1.1 dst=2.2.2.2 src=2.2.2.2 dst=1.1.1.1 src=3.3.3.3",
           "ipv4 2 tcp 999 1 src=1.1.1.1 dst=2.2.2.2 src=2.2.2.2 dst=1.1.1.1",
       }) {
    CAPTURE(bad);
    CHECK_FALSE(parse_proc_conntrack_line(bad, f));
  }
}
