// Flow filters follow conntrack-tools' semantics; NAT classification; protocol/state names.
#include <doctest/doctest.h>

#include "tests/unit/print_parsed.h"
#include <netinet/in.h>

#include "core/flow/filter.h"

using namespace edge;

namespace {

Flow tcp_flow(const char* src, uint16_t sport, const char* dst, uint16_t dport) {
  Flow f;
  f.proto = IPPROTO_TCP;
  f.state = "ESTABLISHED";
  f.orig = {*IpAddr::parse(src), *IpAddr::parse(dst), sport, dport};
  f.reply = {*IpAddr::parse(dst), *IpAddr::parse(src), dport, sport};
  classify_nat(f, 0);
  return f;
}

}  // namespace

TEST_CASE("an empty filter matches everything") {
  CHECK(FlowFilter{}.matches(tcp_flow("10.0.0.1", 1000, "10.0.0.2", 80)));
}

TEST_CASE("each field filters on the original direction") {
  Flow f = tcp_flow("10.0.1.5", 40000, "192.0.2.10", 443);
  FlowFilter flt;
  flt.src = *Cidr::parse("10.0.1.0/24");
  CHECK(flt.matches(f));
  flt.dst = *Cidr::parse("192.0.2.10");
  CHECK(flt.matches(f));
  flt.dport = *PortRange::parse("443");
  CHECK(flt.matches(f));
  flt.sport = *PortRange::parse("1-1023");
  CHECK_FALSE(flt.matches(f));
  flt.sport.reset();
  flt.proto = IPPROTO_UDP;
  CHECK_FALSE(flt.matches(f));
  flt.proto = IPPROTO_TCP;
  flt.state = *parse_tcp_state("time_wait");
  CHECK_FALSE(flt.matches(f));
  flt.state = *parse_tcp_state("established");
  CHECK(flt.matches(f));
  flt.family = Family::v6;
  CHECK_FALSE(flt.matches(f));
}

TEST_CASE("port filters never match portless protocols") {
  Flow f;
  f.proto = IPPROTO_ICMP;
  FlowFilter flt;
  flt.dport = *PortRange::parse("1-65535");
  CHECK_FALSE(flt.matches(f));
}

TEST_CASE("mark with mask") {
  Flow f = tcp_flow("10.0.0.1", 1, "10.0.0.2", 2);
  f.mark = 0x1234;
  auto m = *parse_mark("0x34/0xff");
  FlowFilter flt;
  flt.mark = m.value;
  flt.mark_mask = m.mask;
  CHECK(flt.matches(f));
  m = *parse_mark("4660");
  flt.mark = m.value;
  flt.mark_mask = m.mask;
  CHECK(flt.matches(f));
  flt.mark = 1;
  CHECK_FALSE(flt.matches(f));
  CHECK_FALSE(parse_mark("0xzz"));
  CHECK_FALSE(parse_mark("1/"));
  CHECK_FALSE(parse_mark("99999999999"));
}

TEST_CASE("NAT is classified from the reply tuple and the status bits") {
  Flow f = tcp_flow("10.0.1.42", 5000, "198.51.100.7", 80);
  f.reply.dst = *IpAddr::parse("203.0.113.1");  // masqueraded source
  classify_nat(f, 1u << 7);                     // IPS_SRC_NAT_DONE
  CHECK(f.snat);
  CHECK_FALSE(f.dnat);
  classify_nat(f, 0);  // a reply tuple that differs without NAT done is not NAT (conntrack -I)
  CHECK_FALSE(f.snat);
  classify_nat(f, std::nullopt);  // /proc has no status: the tuples decide
  CHECK(f.snat);

  Flow d = tcp_flow("10.0.1.42", 5000, "203.0.113.1", 443);
  d.reply.src = *IpAddr::parse("10.0.2.80");
  d.reply.sport = 8443;
  classify_nat(d, 1u << 8);
  CHECK(d.dnat);
  FlowFilter flt;
  flt.nat = NatFilter::dnat;
  CHECK(flt.matches(d));
  flt.nat = NatFilter::snat;
  CHECK_FALSE(flt.matches(d));
  flt.nat = NatFilter::any;
  CHECK(flt.matches(d));
  CHECK_FALSE(flt.matches(tcp_flow("10.0.0.1", 1, "10.0.0.2", 2)));
}

TEST_CASE("protocol and state vocabularies") {
  CHECK(*parse_proto("TCP") == IPPROTO_TCP);
  CHECK(*parse_proto("icmpv6") == IPPROTO_ICMPV6);
  CHECK(*parse_proto("47") == 47);
  CHECK_FALSE(parse_proto("tcpp"));
  CHECK_FALSE(parse_proto("256"));
  CHECK(proto_name(IPPROTO_UDP) == "udp");
  CHECK(tcp_state_name(3) == "ESTABLISHED");
  CHECK(tcp_state_name(7) == "TIME_WAIT");
  CHECK(tcp_state_name(200) == "UNKNOWN");
  CHECK_FALSE(parse_tcp_state("OPEN"));
  CHECK(parse_nat_filter("dnat"));
  CHECK_FALSE(parse_nat_filter("masquerade"));
}
