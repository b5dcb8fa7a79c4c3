// The forward proxy's egress and source rules: every default-denied range in every spelling,
// ports, allowlists, deny rules, mixed resolutions, flag errors and hints.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/unit/print_parsed.h"

#include "core/policy/egress.h"

using namespace edge;
using namespace edge::policy;

namespace {

Egress build(const EgressFlags& f) {
  auto e = Egress::build(f);
  REQUIRE_MESSAGE(e, (e ? "" : e.error()));
  return *e;
}

std::string rule_of(const std::optional<Denial>& d) { return d ? std::string(d->rule) : "allowed"; }

// What a CONNECT to host:443 gets when host resolves to `resolved` (for a literal: itself).
// check_name and check_addresses must agree whenever check_name can already tell.
std::string verdict(const Egress& e, const std::string& host, const std::vector<std::string>& resolved = {}) {
  std::vector<IpAddr> addrs;
  if (resolved.empty()) {
    auto a = parse_any_address(host);
    REQUIRE_MESSAGE(a, host);
    addrs.push_back(*a);
  }
  for (const auto& r : resolved) addrs.push_back(*IpAddr::parse(r));
  const auto by_name = e.check_name(host, 443, Kind::tunnel);
  const auto v = e.check_addresses(host, addrs);
  if (by_name) {
    CHECK_MESSAGE(v.allowed.empty(), host);
    return rule_of(by_name);
  }
  CHECK((v.allowed.empty() == v.denial.has_value()));
  return rule_of(v.denial);
}

struct Case {
  const char* host;
  const char* rule;
};

}  // namespace

TEST_CASE("egress: addresses in any spelling are normalised") {
  const std::pair<const char*, const char*> good[] = {
      {"127.0.0.1", "127.0.0.1"},   {"127.1", "127.0.0.1"},          {"2130706433", "127.0.0.1"},
      {"0x7f000001", "127.0.0.1"},  {"0177.0.0.1", "127.0.0.1"},     {"0x7f.1", "127.0.0.1"},
      {"::ffff:127.0.0.1", "127.0.0.1"}, {"[::ffff:10.0.0.1]", "10.0.0.1"}, {"[::1]", "::1"},
      {"2001:DB8::1", "2001:db8::1"}, {"::ffff:7f00:1", "127.0.0.1"}, {"10.1.2.3", "10.1.2.3"},
  };
  for (const auto& [text, want] : good) {
    CAPTURE(text);
    auto a = parse_any_address(text);
    REQUIRE(a);
    CHECK(a->str() == want);
  }
  for (const char* bad : {"", "localhost", "example.com", "127.0.0.1 x", "127.0.0.1 ", " 127.0.0.1", "127.0.0.1.", "1.2.3.4.5",
                          "256.0.0.1", "08.0.0.1", "[127.0.0.1]", "[::1", "::1]", "fe80::1%eth0", "0x7f000001g", "127.0.0.1\n"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_any_address(bad));
  }
  CHECK_FALSE(parse_any_address(std::string_view("127.0.0.1\0x", 11)));
}

TEST_CASE("egress: every default-denied range, in every spelling, by default") {
  const Egress e = build({});
  CHECK_FALSE(e.allowlist_mode());
  const Case cases[] = {
      {"127.0.0.1", "loopback"},        {"127.1", "loopback"},           {"2130706433", "loopback"},
      {"0x7f000001", "loopback"},       {"0177.0.0.1", "loopback"},      {"::ffff:127.0.0.1", "loopback"},
      {"[::ffff:127.0.0.1]", "loopback"}, {"::1", "loopback"},          {"[::1]", "loopback"},
      {"127.255.255.254", "loopback"},  {"0.0.0.0", "unspecified"},      {"0", "unspecified"},
      {"::", "unspecified"},            {"0.1.2.3", "unspecified"},      {"169.254.169.254", "metadata"},
      {"::ffff:169.254.169.254", "metadata"}, {"fd00:ec2::254", "metadata"}, {"169.254.1.1", "link-local"},
      {"fe80::1", "link-local"},        {"10.0.0.1", "private"},         {"10.255.255.255", "private"},
      {"012.1", "private"},             {"172.16.0.1", "private"},       {"172.31.255.254", "private"},
      {"192.168.1.1", "private"},       {"fd12::1", "private"},          {"fc00::1", "private"},
      {"224.0.0.1", "multicast"},       {"ff02::1", "multicast"},        {"172.32.0.1", "allowed"},
      {"172.15.255.255", "allowed"},    {"93.184.216.34", "allowed"},    {"2001:db8::1", "allowed"},
      {"11.0.0.1", "allowed"},          {"169.255.0.1", "allowed"},      {"192.169.0.1", "allowed"},
      {"::ffff:93.184.216.34", "allowed"}, {"fd00:ec2::253", "private"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.host);
    CHECK(verdict(e, c.host) == c.rule);
  }
  // A public name resolving into a denied range is denied all the same.
  CHECK(verdict(e, "example.test", {"169.254.169.254"}) == "metadata");
  CHECK(verdict(e, "example.test", {"::ffff:10.0.0.1"}) == "private");
  CHECK(verdict(e, "example.test", {"93.184.216.34"}) == "allowed");
}

TEST_CASE("egress: ports for CONNECT and for HTTP, defaults and replacements") {
  const Egress e = build({});
  CHECK(rule_of(e.check_name("example.test", 443, Kind::tunnel)) == "allowed");
  CHECK(rule_of(e.check_name("example.test", 22, Kind::tunnel)) == "connect-port");
  CHECK(rule_of(e.check_name("example.test", 80, Kind::tunnel)) == "connect-port");
  CHECK(rule_of(e.check_name("example.test", 80, Kind::http)) == "allowed");
  CHECK(rule_of(e.check_name("example.test", 443, Kind::http)) == "allowed");
  CHECK(rule_of(e.check_name("example.test", 8080, Kind::http)) == "allowed");
  CHECK(rule_of(e.check_name("example.test", 1025, Kind::http)) == "allowed");
  CHECK(rule_of(e.check_name("example.test", 1024, Kind::http)) == "http-port");
  CHECK(rule_of(e.check_name("example.test", 22, Kind::http)) == "http-port");
  CHECK(rule_of(e.check_name("example.test", 0, Kind::http)) == "http-port");
  // The hint keeps the list the flag would otherwise replace.
  CHECK(e.check_name("example.test", 22, Kind::tunnel)->hint == "--connect-ports 443,22");
  CHECK(e.check_name("example.test", 22, Kind::http)->hint == "--http-ports 80,443,1025-65535,22");

  EgressFlags f;
  f.connect_ports = {"22", "8443-8444"};
  f.http_ports = {"8080"};
  const Egress p = build(f);
  CHECK(rule_of(p.check_name("example.test", 22, Kind::tunnel)) == "allowed");
  CHECK(rule_of(p.check_name("example.test", 8444, Kind::tunnel)) == "allowed");
  CHECK(rule_of(p.check_name("example.test", 443, Kind::tunnel)) == "connect-port");
  CHECK(rule_of(p.check_name("example.test", 80, Kind::http)) == "http-port");
  CHECK(rule_of(p.check_name("example.test", 8080, Kind::http)) == "allowed");
}

TEST_CASE("egress: allowlisted domains, with and without the leading dot") {
  EgressFlags f;
  f.allow_domain = {".example.test", "exact.test"};
  const Egress e = build(f);
  CHECK(e.allowlist_mode());
  const Case cases[] = {
      {"a.example.test", "allowed"},   {"example.test", "allowed"},     {"b.a.example.test", "allowed"},
      {"A.Example.TEST.", "allowed"},  {"badexample.test", "not-allowlisted"}, {"example.test.evil", "not-allowlisted"},
      {"exact.test", "allowed"},       {"a.exact.test", "not-allowlisted"}, {"other.test", "not-allowlisted"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.host);
    CHECK(verdict(e, c.host, {"93.184.216.34"}) == c.rule);
  }
  // An address literal is judged as an address: domain rules never apply to it.
  CHECK(verdict(e, "93.184.216.34") == "not-allowlisted");
  CHECK(e.check_name("93.184.216.34", 443, Kind::tunnel)->hint == "--allow-dst 93.184.216.34/32");
  CHECK(e.check_name("other.test", 443, Kind::tunnel)->hint == "--allow-domain other.test");
}

TEST_CASE("egress: --allow-domain never lifts a default-denied range") {
  EgressFlags f;
  f.allow_domain = {".example.test"};
  const Egress e = build(f);
  CHECK(verdict(e, "a.example.test", {"127.0.0.1"}) == "loopback");
  CHECK(verdict(e, "a.example.test", {"::ffff:127.0.0.1"}) == "loopback");
  CHECK(verdict(e, "a.example.test", {"10.1.2.3"}) == "private");
  CHECK(verdict(e, "a.example.test", {"169.254.169.254"}) == "metadata");
  const auto d = e.check_addresses("a.example.test", std::vector{*IpAddr::parse("127.0.0.1")}).denial;
  REQUIRE(d);
  CHECK(d->hint == "--allow-dst 127.0.0.1/32");
  CHECK(d->detail == "a.example.test resolves to 127.0.0.1, a loopback address");
}

TEST_CASE("egress: --allow-dst lifts the default denial for what it covers") {
  EgressFlags f;
  f.allow_dst = {"10.0.0.0/8"};
  const Egress e = build(f);
  CHECK(e.allowlist_mode());
  CHECK(verdict(e, "10.1.2.3") == "allowed");
  CHECK(verdict(e, "012.1.2.3") == "allowed");
  CHECK(verdict(e, "::ffff:10.1.2.3") == "allowed");
  CHECK(verdict(e, "intranet.test", {"10.9.9.9"}) == "allowed");  // any name, by its address
  CHECK(verdict(e, "192.168.1.1") == "private");
  CHECK(verdict(e, "127.0.0.1") == "loopback");
  CHECK(verdict(e, "93.184.216.34") == "not-allowlisted");
  CHECK(verdict(e, "example.test", {"93.184.216.34"}) == "not-allowlisted");
  // A mapped rule is the IPv4 rule it spells.
  EgressFlags m;
  m.allow_dst = {"::ffff:192.168.0.0/112"};
  CHECK(verdict(build(m), "192.168.3.4") == "allowed");
  CHECK(verdict(build(m), "192.169.3.4") == "not-allowlisted");
}

TEST_CASE("egress: deny rules win over every allow") {
  EgressFlags f;
  f.allow_domain = {".example.test"};
  f.deny_domain = {"bad.example.test", ".worse.example.test"};
  f.allow_dst = {"10.0.0.0/8"};
  f.deny_dst = {"10.6.6.0/24", "::ffff:10.7.0.0/120"};
  const Egress e = build(f);
  CHECK(verdict(e, "bad.example.test", {"93.184.216.34"}) == "deny-domain");
  CHECK(verdict(e, "BAD.example.test.", {"93.184.216.34"}) == "deny-domain");
  CHECK(verdict(e, "x.bad.example.test", {"93.184.216.34"}) == "allowed");
  CHECK(verdict(e, "x.worse.example.test", {"93.184.216.34"}) == "deny-domain");
  CHECK(verdict(e, "worse.example.test", {"10.1.1.1"}) == "deny-domain");
  CHECK(verdict(e, "10.6.6.6") == "deny-dst");
  CHECK(verdict(e, "10.7.0.9") == "deny-dst");
  CHECK(verdict(e, "a.example.test", {"10.6.6.6"}) == "deny-dst");
  CHECK(verdict(e, "10.6.7.1") == "allowed");
  CHECK(e.check_name("bad.example.test", 443, Kind::tunnel)->hint == "remove --deny-domain bad.example.test");
  CHECK(e.check_name("10.6.6.6", 443, Kind::tunnel)->hint == "remove --deny-dst 10.6.6.0/24");
  // Without any allow, deny still applies and the default stays public-only.
  EgressFlags d;
  d.deny_domain = {".evil.test"};
  const Egress only_deny = build(d);
  CHECK_FALSE(only_deny.allowlist_mode());
  CHECK(verdict(only_deny, "evil.test", {"93.184.216.34"}) == "deny-domain");
  CHECK(verdict(only_deny, "fine.test", {"93.184.216.34"}) == "allowed");
}

TEST_CASE("egress: a name with allowed and denied addresses is reached only on the allowed ones") {
  const Egress e = build({});
  const std::vector<IpAddr> mixed = {*IpAddr::parse("10.0.0.1"), *IpAddr::parse("::ffff:93.184.216.34"),
                                     *IpAddr::parse("::1"), *IpAddr::parse("93.184.216.34"), *IpAddr::parse("2001:db8::1")};
  const auto v = e.check_addresses("mixed.test", mixed);
  CHECK_FALSE(v.denial);
  REQUIRE(v.allowed.size() == 2);
  CHECK(v.allowed[0].str() == "93.184.216.34");
  CHECK(v.allowed[1].str() == "2001:db8::1");

  const std::vector<IpAddr> none = {*IpAddr::parse("192.168.0.9"), *IpAddr::parse("127.0.0.1")};
  const auto n = e.check_addresses("inside.test", none);
  CHECK(n.allowed.empty());
  REQUIRE(n.denial);
  CHECK(n.denial->rule == "private");  // the first denied address names the rule
  CHECK(n.denial->hint == "--allow-dst 192.168.0.9/32");

  const auto empty = e.check_addresses("nothing.test", {});
  CHECK(empty.allowed.empty());
  CHECK_FALSE(empty.denial);
}

TEST_CASE("egress: hosts that are neither a name nor an address are refused") {
  const Egress e = build({});
  for (const char* bad : {"", ".", "a..b", ".example.test", "exa mple.test", "example.test%00", "ex*ample.test", "1.2.3.4.5",
                          "10.0.0.256", "caf\xc3\xa9.test", "[127.0.0.1]", "127.0.0.1 x", "example.test\n"}) {
    CAPTURE(bad);
    CHECK(rule_of(e.check_name(bad, 443, Kind::tunnel)) == "bad-name");
    CHECK(rule_of(e.check_addresses(bad, std::vector{*IpAddr::parse("93.184.216.34")}).denial) == "bad-name");
  }
  CHECK(rule_of(e.check_name(std::string(300, 'a'), 443, Kind::tunnel)) == "bad-name");
  CHECK(rule_of(e.check_name("_srv.example-1.test", 443, Kind::tunnel)) == "allowed");
  // The echoed host cannot drive a terminal.
  CHECK(e.check_name("a\x1b[31m.test", 443, Kind::tunnel)->detail.find('\x1b') == std::string::npos);
}

TEST_CASE("egress: flags repeat and take comma lists") {
  EgressFlags f;
  f.allow_domain = {"a.test, .b.test", "c.test"};
  f.allow_dst = {"192.0.2.0/24,198.51.100.7", "2001:db8::/32"};
  f.connect_ports = {"443, 22", "8000-8001"};
  const Egress e = build(f);
  for (const char* host : {"a.test", "x.b.test", "c.test"}) {
    CAPTURE(host);
    CHECK(verdict(e, host, {"203.0.113.1"}) == "allowed");
  }
  CHECK(verdict(e, "d.test", {"203.0.113.1"}) == "not-allowlisted");
  CHECK(verdict(e, "198.51.100.7") == "allowed");
  CHECK(verdict(e, "198.51.100.8") == "not-allowlisted");
  CHECK(verdict(e, "192.0.2.200") == "allowed");
  CHECK(verdict(e, "2001:db8:1::1") == "allowed");
  for (uint16_t port : {443, 22, 8000, 8001}) CHECK(rule_of(e.check_name("a.test", port, Kind::tunnel)) == "allowed");
  CHECK(rule_of(e.check_name("a.test", 8002, Kind::tunnel)) == "connect-port");
}

TEST_CASE("egress: bad flag values name the flag, the item and what is accepted") {
  struct Bad {
    EgressFlags flags;
    const char* want;
  };
  auto with = [](auto member, std::vector<std::string> v) {
    EgressFlags f;
    f.*member = std::move(v);
    return f;
  };
  const Bad cases[] = {
      {with(&EgressFlags::allow_domain, {"*.example.com"}), "--allow-domain: '*.example.com' is a wildcard (write .example.com"},
      {with(&EgressFlags::allow_domain, {"ok.test,*"}), "--allow-domain: '*' is a wildcard"},
      {with(&EgressFlags::deny_domain, {"a..b"}), "--deny-domain: 'a..b' has an empty label"},
      {with(&EgressFlags::allow_domain, {"."}), "--allow-domain: '.' names no domain (expected example.com"},
      {with(&EgressFlags::allow_domain, {".."}), "--allow-domain: '..' names no domain"},
      {with(&EgressFlags::allow_domain, {"a.test,,b.test"}), "--allow-domain: 'a.test,,b.test' has an empty item"},
      {with(&EgressFlags::allow_domain, {""}), "--allow-domain: '' has an empty item"},
      {with(&EgressFlags::allow_domain, {"ex ample.test"}), "--allow-domain: 'ex ample.test' has a character that cannot be in a DNS name (' '"},
      {with(&EgressFlags::allow_domain, {"ex/ample.test"}), "--allow-domain: 'ex/ample.test' has a character that cannot be in a DNS name ('/'"},
      {with(&EgressFlags::allow_domain, {"10.0.0.1"}), "--allow-domain: '10.0.0.1' is an IP address; domain rules match names (use --allow-dst"},
      {with(&EgressFlags::allow_domain, {"caf\xc3\xa9.test"}), "non-ASCII"},
      {with(&EgressFlags::allow_dst, {"10.0.0.0/33"}), "--allow-dst: '10.0.0.0/33' has prefix length 33"},
      {with(&EgressFlags::deny_dst, {"192.0.2.0/24,nope"}), "--deny-dst: 'nope' is not a CIDR (expected"},
      {with(&EgressFlags::allow_src, {"example.com"}), "--allow-src: 'example.com' is not a CIDR"},
      {with(&EgressFlags::connect_ports, {"443,70000"}), "--connect-ports: '70000' port 70000 is out of range (1-65535)"},
      {with(&EgressFlags::http_ports, {"http"}), "--http-ports: 'http' is not a port (expected a number 1-65535)"},
      {with(&EgressFlags::http_ports, {"9000-8000"}), "--http-ports: '9000-8000' is an empty range"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.want);
    const auto e = Egress::build(c.flags);
    REQUIRE_FALSE(e);
    CHECK_MESSAGE(e.error().find(c.want) != std::string::npos, e.error());
  }
  // Case and the root's trailing dot are not errors, only other spellings of the same rule.
  EgressFlags ok;
  ok.deny_domain = {"Example.TEST."};
  CHECK(verdict(build(ok), "example.test", {"93.184.216.34"}) == "deny-domain");
}

TEST_CASE("egress: clients, by source address and authentication") {
  EgressFlags f;
  f.allow_src = {"192.0.2.0/24"};
  const Egress e = build(f);
  auto src = [&](const Egress& x, const char* a, bool authed = false) { return rule_of(x.check_source(*IpAddr::parse(a), authed)); };
  CHECK(src(e, "127.0.0.1") == "allowed");
  CHECK(src(e, "127.9.9.9") == "allowed");
  CHECK(src(e, "::1") == "allowed");
  CHECK(src(e, "::ffff:127.0.0.1") == "allowed");
  CHECK(src(e, "192.0.2.77") == "allowed");
  CHECK(src(e, "::ffff:192.0.2.77") == "allowed");
  CHECK(src(e, "198.51.100.1") == "source");
  CHECK(src(e, "198.51.100.1", true) == "source");  // no --auth: a credential means nothing
  CHECK(e.check_source(*IpAddr::parse("198.51.100.1"), false)->hint == "--allow-src 198.51.100.1/32 or --auth");

  EgressFlags a;
  a.auth_configured = true;
  const Egress auth = build(a);
  CHECK(src(auth, "198.51.100.1") == "source");
  CHECK(src(auth, "198.51.100.1", true) == "allowed");

  EgressFlags o;
  o.open = true;
  CHECK(src(build(o), "198.51.100.1") == "allowed");
}

TEST_CASE("egress: a listener beyond loopback needs --allow-src, --auth or --open") {
  auto ip = [](const char* a) { return *IpAddr::parse(a); };
  const EgressFlags none;
  CHECK_FALSE(listen_needs_guard(ip("127.0.0.1"), none));
  CHECK_FALSE(listen_needs_guard(ip("::1"), none));
  CHECK_FALSE(listen_needs_guard(ip("::ffff:127.0.0.1"), none));
  CHECK(listen_needs_guard(ip("0.0.0.0"), none));
  CHECK(listen_needs_guard(ip("::"), none));
  CHECK(listen_needs_guard(ip("192.0.2.1"), none));
  EgressFlags src;
  src.allow_src = {"192.0.2.0/24"};
  CHECK_FALSE(listen_needs_guard(ip("0.0.0.0"), src));
  EgressFlags auth;
  auth.auth_configured = true;
  CHECK_FALSE(listen_needs_guard(ip("0.0.0.0"), auth));
  EgressFlags open;
  open.open = true;
  CHECK_FALSE(listen_needs_guard(ip("0.0.0.0"), open));
}

TEST_CASE("egress: the start banner says the policy") {
  CHECK(build({}).describe() ==
        "egress: default (public only; denied: metadata, loopback, unspecified, link-local, private, multicast)\n"
        "egress ports: CONNECT 443; HTTP 80,443,1025-65535\n"
        "clients: loopback");
  EgressFlags f;
  f.allow_domain = {".example.test,a.test"};
  f.allow_dst = {"10.0.0.0/8"};
  f.deny_dst = {"10.6.6.0/24"};
  f.allow_src = {"192.0.2.0/24"};
  f.auth_configured = true;
  f.connect_ports = {"443,22"};
  CHECK(build(f).describe() ==
        "egress: allowlist (--allow-domain a.test,.example.test; --allow-dst 10.0.0.0/8; denied even for allowed names, "
        "unless in --allow-dst: metadata, loopback, unspecified, link-local, private, multicast)\n"
        "egress deny: --deny-dst 10.6.6.0/24\n"
        "egress ports: CONNECT 443,22; HTTP 80,443,1025-65535\n"
        "clients: loopback, 192.0.2.0/24, authenticated");
}
