// edge nat: the address-and-port forms, rule checks (families, ranges, engines) and the exact
// nft/iptables text the kernel engine loads.
#include <doctest/doctest.h>

#include "core/base/errors.h"
#include "core/net/nat_spec.h"
#include "engines/nat/rule_check.h"
#include "engines/nat/ruleset.h"
#include "engines/nat/status.h"
#include "tests/unit/print_parsed.h"

using namespace edge;
using namespace edge::nat;

TEST_CASE("nat --to: ADDR, ADDR:PORT, ranges, IPv6 in brackets, names") {
  auto a = parse_host_ports("10.0.2.2");
  REQUIRE(a);
  CHECK(a->host == "10.0.2.2");
  CHECK(!a->ports);
  auto b = parse_host_ports("[fd00::2]:80-84");
  REQUIRE(b);
  CHECK(b->host == "fd00::2");
  CHECK(b->ports->lo() == 80);
  CHECK(b->ports->hi() == 84);
  auto c = parse_host_ports("fd00::2");
  REQUIRE(c);
  CHECK(c->host == "fd00::2");
  CHECK(!c->ports);
  CHECK(parse_host_ports("backend.local:8080")->host == "backend.local");
  CHECK(!parse_host_ports("10.0.2.2:0").has_value());
  CHECK(!parse_host_ports("10.0.2.2:90-80").has_value());
  CHECK(!parse_host_ports("[fd00::2").has_value());
  CHECK(!parse_host_ports("[fd00::2]x").has_value());
  CHECK(!parse_host_ports("fd00::zz").has_value());
  CHECK(!parse_host_ports("a b:80").has_value());
  CHECK(!parse_host_ports("").has_value());
}

TEST_CASE("nat --to-source: address ranges with port ranges, one family") {
  auto a = parse_addr_range_ports("10.0.0.1-10.0.0.9:20000-30000");
  REQUIRE(a);
  CHECK(a->lo.str() == "10.0.0.1");
  CHECK(a->hi.str() == "10.0.0.9");
  CHECK(a->ports->lo() == 20000);
  auto b = parse_addr_range_ports("[fd00::1]-[fd00::9]:1000-2000");
  REQUIRE(b);
  CHECK(b->hi.str() == "fd00::9");
  CHECK(b->ports->hi() == 2000);
  auto c = parse_addr_range_ports("198.51.100.7");
  REQUIRE(c);
  CHECK(c->lo == c->hi);
  CHECK(!parse_addr_range_ports("10.0.0.9-10.0.0.1").has_value());
  CHECK(!parse_addr_range_ports("10.0.0.1-fd00::1").has_value());
  CHECK(!parse_addr_range_ports("host.example").has_value());
}

TEST_CASE("nat --listen: [ADDR:]PORT[-PORT]") {
  auto a = parse_listen_spec("8080");
  REQUIRE(a);
  CHECK(!a->addr);
  CHECK(a->ports.lo() == 8080);
  auto b = parse_listen_spec("127.0.0.1:9000-9004");
  REQUIRE(b);
  CHECK(b->addr->str() == "127.0.0.1");
  CHECK(b->ports.hi() == 9004);
  CHECK(parse_listen_spec("[::1]:53")->addr->str() == "::1");
  CHECK(!parse_listen_spec("name:80").has_value());
  CHECK(!parse_listen_spec("::1").has_value());
  CHECK(!parse_listen_spec("0").has_value());
}

TEST_CASE("nat rule checks: families agree, ranges map, engines get their flags") {
  DnatFlags d{.proto = "tcp", .port = "9000-9004", .to = "10.0.2.2:8000-8004"};
  DnatRule r = check_dnat(d, Engine::kernel);
  CHECK(r.to_ports->lo() == 8000);
  CHECK(r.families == Families::v4);
  d.to = "10.0.2.2:8000-8002";
  CHECK_THROWS_AS(check_dnat(d, Engine::kernel), Fatal);  // 5 ports onto 3
  d.to = "10.0.2.2:80";
  CHECK(check_dnat(d, Engine::kernel).to_ports->hi() == 80);  // all onto one
  d.to = "backend:80";
  CHECK_THROWS_AS(check_dnat(d, Engine::kernel), Fatal);  // kernel NAT needs an address
  d = DnatFlags{.dst = "10.0.1.1", .proto = "udp", .port = "53", .to = "[fd00::2]:53"};
  CHECK_THROWS_AS(check_dnat(d, Engine::kernel), Fatal);  // IPv4 --dst, IPv6 --to
  d = DnatFlags{.proto = "tcp", .port = "80", .to = "10.0.2.2", .v6 = true};
  CHECK_THROWS_AS(check_dnat(d, Engine::kernel), Fatal);
  d = DnatFlags{.proto = "tcp", .to = "backend:80", .listen = "8080"};
  DnatRule u = check_dnat(d, Engine::user);
  CHECK(u.to_host == "backend");
  CHECK(u.port.lo() == 8080);
  d.listen.clear();
  d.port = "8080";
  CHECK_THROWS_AS(check_dnat(d, Engine::user), Fatal);  // the user engine needs --listen
  d = DnatFlags{.proto = "tcp", .to = "10.0.2.2:80", .listen = "10.0.1.1:8080"};
  DnatRule k = check_dnat(d, Engine::kernel);
  CHECK(k.dst->str() == "10.0.1.1");  // --listen is --dst/--port for kernel rules
  CHECK_THROWS_AS(check_snat(SnatFlags{.out = "eth0", .src = "10.0.0.0/8", .to_source = "fd00::1"}), Fatal);
  CHECK_THROWS_AS(check_snat(SnatFlags{.out = "a/b"}), Fatal);
  CHECK(check_snat(SnatFlags{.out = "eth0", .src = "fd00::/64"}).families == Families::v6);
}

namespace {
Options two_rules() {
  Options o;
  o.dnat.push_back(check_dnat(DnatFlags{.proto = "udp", .port = "9000-9001", .to = "10.0.2.2:7000-7001"}, Engine::kernel));
  o.snat.push_back(check_snat(SnatFlags{.out = "wan0"}));
  return o;
}
}  // namespace

TEST_CASE("nft script: an owned table, marks only unmarked flows, maps a range one to one") {
  Options o = two_rules();
  RulesetParams p{.table = "edge_nat_7", .mark = mark_for_pid(7), .owner = true, .hairpin = {std::nullopt}};
  const std::string s = nft_script(o, p);
  CHECK(s.find("table inet edge_nat_7 {\n  flags owner;") != std::string::npos);
  CHECK(s.find("udp dport 9000-9001 ct mark 0 ct mark set 0xed000007") != std::string::npos);
  CHECK(s.find("dnat ip to 10.0.2.2 : udp dport map { 9000 : 7000, 9001 : 7001 }") != std::string::npos);
  CHECK(s.find("oifname \"wan0\" ct mark 0 ct mark set 0xed000007 counter name \"edge_flows\"\n    oifname \"wan0\" masquerade") != std::string::npos);
  CHECK(s.find("chain output") != std::string::npos);  // no --in: the host's own traffic too
  p.owner = false;
  CHECK(nft_script(o, p).find("flags owner") == std::string::npos);
  o.dnat[0].in_iface = "wan0";
  CHECK(nft_script(o, p).find("chain output") == std::string::npos);
  CHECK(mark_for_pid(7, true) == 0xEE000007);
}

TEST_CASE("iptables equivalent: comments, port shift for one-to-one ranges") {
  Options o = two_rules();
  RulesetParams p{.table = "t", .mark = 0xed000001, .hairpin = {std::nullopt}};
  const std::string s = iptables_script(o, p);
  CHECK(s.find("# iptables -t nat -A PREROUTING -p udp -m addrtype --dst-type LOCAL --dport 9000:9001 -j DNAT --to-destination 10.0.2.2:7000-7001/9000") !=
        std::string::npos);
  CHECK(s.find("# ip6tables -t nat -A POSTROUTING -o wan0 -j MASQUERADE") != std::string::npos);
  for (size_t at = 0; at < s.size(); at = s.find('\n', at) + 1) CHECK(s[at] == '#');
}

TEST_CASE("nat rule descriptions") {
  Options o = two_rules();
  CHECK(describe(o.dnat[0]) == "dnat udp ipv4 *:9000-9001 -> 10.0.2.2:7000-7001");
  CHECK(describe(o.snat[0]) == "snat out wan0 -> masquerade");
}
