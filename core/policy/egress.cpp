// The forward proxy's egress and source rules: flag parsing, the default-denied ranges, and the
// judgement of clients, names and resolved addresses.
#include "core/policy/egress.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cstring>

#include "core/base/errors.h"
#include "core/base/text.h"

namespace edge::policy {
namespace {

constexpr std::string_view kNotAddress = "is not an IP address (expected e.g. 192.0.2.1, 2001:db8::1 or [2001:db8::1])";

bool is_mapped(const IpAddr& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.family() == Family::v6 && std::equal(kMapped, kMapped + 12, a.bytes());
}

// The kernel sends a connect to ::ffff:a.b.c.d to a.b.c.d, so that is the address to judge.
IpAddr unmapped(const IpAddr& a) { return is_mapped(a) ? IpAddr::from_bytes(Family::v4, a.bytes() + 12) : a; }

std::string host_cidr(const IpAddr& a) { return fmt::format("{}/{}", a.str(), a.family() == Family::v4 ? 32 : 128); }

struct RangeText {
  std::string_view rule, what, cidr;
};

// Metadata comes first: it lies inside link-local (IPv4) and the ULA block (IPv6), and saying
// "metadata" is what tells the reader a request tried to reach the instance's credentials.
// Multicast is denied too: a proxied TCP connection to it can only fail, and less clearly.
constexpr RangeText kDefaultDenied[] = {
    {"metadata", "a cloud metadata address", "169.254.169.254/32"},
    {"metadata", "a cloud metadata address", "fd00:ec2::254/128"},
    {"loopback", "a loopback address", "127.0.0.0/8"},
    {"loopback", "a loopback address", "::1/128"},
    {"unspecified", "an unspecified address (this host)", "0.0.0.0/8"},
    {"unspecified", "an unspecified address (this host)", "::/128"},
    {"link-local", "a link-local address", "169.254.0.0/16"},
    {"link-local", "a link-local address", "fe80::/10"},
    {"private", "a private address", "10.0.0.0/8"},
    {"private", "a private address", "172.16.0.0/12"},
    {"private", "a private address", "192.168.0.0/16"},
    {"private", "a private (unique local) address", "fc00::/7"},
    {"multicast", "a multicast address", "224.0.0.0/4"},
    {"multicast", "a multicast address", "ff00::/8"},
};
constexpr std::string_view kDeniedRules = "metadata, loopback, unspecified, link-local, private, multicast";

const RangeText* default_range(const IpAddr& a) {
  static const std::vector<Cidr> cidrs = [] {
    std::vector<Cidr> v;
    for (const RangeText& r : kDefaultDenied) {
      auto c = Cidr::parse(r.cidr);
      assert(c);  // the table above is constant text
      v.push_back(*c);
    }
    return v;
  }();
  for (size_t i = 0; i < cidrs.size(); ++i)
    if (cidrs[i].contains(a)) return &kDefaultDenied[i];
  return nullptr;
}

bool is_loopback(const IpAddr& a) {
  const RangeText* r = default_range(a);
  return r && r->rule == "loopback";
}

bool any_contains(const std::vector<Cidr>& cidrs, const IpAddr& a) {
  return std::any_of(cidrs.begin(), cidrs.end(), [&](const Cidr& c) { return c.contains(a); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every item of a flag that repeats and takes comma lists; an error names the flag and the item.
template <class F>
auto parse_list(const char* flag, const std::vector<std::string>& values, F parse_one)
    -> Parsed<std::vector<typename decltype(parse_one(std::string_view{}))::value_type>> {
  using T = typename decltype(parse_one(std::string_view{}))::value_type;
  std::vector<T> out;
  for (const std::string& value : values) {
    std::string_view rest = value;
    for (;;) {
      const size_t comma = rest.find(',');
      const std::string_view item = trim(rest.substr(0, comma));
      if (item.empty())
        return parse_error<std::vector<T>>(usage_error(flag, value, "has an empty item (expected a comma-separated list)").what());
      auto parsed = parse_one(item);
      if (!parsed) return parse_error<std::vector<T>>(usage_error(flag, std::string(item), parsed.error()).what());
      out.push_back(std::move(*parsed));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

// A DNS name as the resolver would look it up, in one spelling: lower case, without the root's
// trailing dot, labels of letters, digits, '-' and '_'. Anything else is refused rather than
// matched loosely, so that no spelling of a denied name slips past its rule.
Parsed<std::string> canonical_name(std::string_view text) {
  if (text.size() > 1 && text.back() == '.') text.remove_suffix(1);
  if (text.empty()) return parse_error<std::string>("is empty");
  if (text.size() > 253) return parse_error<std::string>(fmt::format("is longer than a DNS name can be ({} bytes, at most 253)", text.size()));
  bool numeric_last = false;
  for (size_t at = 0; at <= text.size();) {
    size_t dot = text.find('.', at);
    if (dot == std::string_view::npos) dot = text.size();
    const std::string_view label = text.substr(at, dot - at);
    if (label.empty()) return parse_error<std::string>("has an empty label ('..', or a leading or lone dot)");
    if (label.size() > 63) return parse_error<std::string>(fmt::format("has a label longer than 63 bytes ({})", label.size()));
    numeric_last = true;
    for (const char c : label) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x80) return parse_error<std::string>("has a non-ASCII character (write the name's punycode xn-- form)");
      if (!std::isalnum(u) && c != '-' && c != '_')
        return parse_error<std::string>(fmt::format("has a character that cannot be in a DNS name ('{}'; expected letters, digits, '-', '_')",
                                                    printable(std::string_view(&c, 1))));
      numeric_last = numeric_last && std::isdigit(u);
    }
    at = dot + 1;
  }
  // The resolver reads such a name as a number: refuse what looks like an address but is none.
  if (numeric_last) return parse_error<std::string>("looks like an IPv4 address but is not one (a name's last label is never all digits)");
  std::string name(text);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return Parsed<std::string>(boost::system::in_place_value, std::move(name));
}

struct DomainRule {
  std::string name;
  bool subdomains = false;
};

Parsed<DomainRule> parse_domain(std::string_view item) {
  if (item.find('*') != std::string_view::npos)
    return parse_error<DomainRule>("is a wildcard (write .example.com for example.com and every subdomain)");
  if (parse_any_address(item))
    return parse_error<DomainRule>("is an IP address; domain rules match names (use --allow-dst or --deny-dst for addresses)");
  DomainRule r;
  r.subdomains = item.front() == '.';
  if (r.subdomains) item.remove_prefix(1);
  if (item.empty() || item == ".")
    return parse_error<DomainRule>("names no domain (expected example.com, or .example.com for it and every subdomain)");
  auto name = canonical_name(item);
  if (!name) return parse_error<DomainRule>(name.error());
  r.name = std::move(*name);
  return r;
}

Parsed<Cidr> parse_cidr(std::string_view item) {
  auto c = Cidr::parse(item);
  // Addresses are judged as IPv4 when mapped, so a rule written mapped must be IPv4 too or it
  // would never match.
  if (c && is_mapped(c->network()) && c->prefix() >= 96)
    return Cidr::parse(fmt::format("{}/{}", unmapped(c->network()).str(), c->prefix() - 96));
  return c;
}

std::string ports_str(const std::vector<PortRange>& ports) {
  std::string s;
  for (const PortRange& p : ports) {
    if (!s.empty()) s += ',';
    s += p.lo() == p.hi() ? fmt::format("{}", p.lo()) : fmt::format("{}-{}", p.lo(), p.hi());
  }
  return s;
}

std::string cidrs_str(const std::vector<Cidr>& cidrs) {
  std::string s;
  for (const Cidr& c : cidrs) s += (s.empty() ? "" : ",") + c.str();
  return s;
}

Denial bad_name(std::string_view host, const std::string& problem) {
  return Denial{"bad-name", fmt::format("host '{}' {}", printable(host, kShownValueBytes), problem),
                "write the host as a DNS name or an IP address"};
}

}  // namespace

Parsed<IpAddr> parse_any_address(std::string_view text) {
  // IpAddr::parse hands inet_pton a C string, which would end at an embedded NUL.
  if (text.find('\0') != std::string_view::npos) return parse_error<IpAddr>(std::string(kNotAddress));
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    auto a = IpAddr::parse(text.substr(1, text.size() - 2));
    if (!a || a->family() != Family::v6) return parse_error<IpAddr>(std::string(kNotAddress));
    return unmapped(*a);
  }
  if (auto a = IpAddr::parse(text)) return unmapped(*a);
  // The legacy IPv4 forms inet_aton reads, as the resolver does: one to four parts, each decimal,
  // octal (leading 0) or hex (0x). glibc's inet_aton ignores whatever follows a space, so only the
  // characters those forms use reach it.
  constexpr size_t kLongest = 40;  // "0x" + 8 hex digits per part, with room to spare
  if (text.empty() || text.size() > kLongest) return parse_error<IpAddr>(std::string(kNotAddress));
  for (const char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'x' && c != 'X')
      return parse_error<IpAddr>(std::string(kNotAddress));
  char buf[kLongest + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr in{};
  if (inet_aton(buf, &in) != 1) return parse_error<IpAddr>(std::string(kNotAddress));
  return IpAddr::from_bytes(Family::v4, &in.s_addr);
}

std::optional<std::string> Egress::Domains::match(std::string_view name) const {
  if (exact.find(name) != exact.end()) return std::string(name);
  // ".example.com" matches the name itself and every name ending in ".example.com": try the name,
  // then each parent, so "badexample.com" never meets it.
  for (std::string_view s = name;;) {
    if (suffix.find(s) != suffix.end()) return "." + std::string(s);
    const size_t dot = s.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    s.remove_prefix(dot + 1);
  }
}

std::string Egress::Domains::str() const {
  std::string s;
  for (const std::string& n : exact) s += (s.empty() ? "" : ",") + n;
  for (const std::string& n : suffix) s += (s.empty() ? "." : ",.") + n;
  return s;
}

Parsed<Egress> Egress::build(const EgressFlags& flags) {
  Egress e;
  e.auth_configured_ = flags.auth_configured;
  e.open_ = flags.open;
  struct DomainFlag {
    const char* flag;
    const std::vector<std::string>& values;
    Domains& into;
  };
  for (const DomainFlag& f : {DomainFlag{"--allow-domain", flags.allow_domain, e.allow_domains_},
                              DomainFlag{"--deny-domain", flags.deny_domain, e.deny_domains_}}) {
    auto rules = parse_list(f.flag, f.values, parse_domain);
    if (!rules) return parse_error<Egress>(rules.error());
    for (DomainRule& r : *rules) (r.subdomains ? f.into.suffix : f.into.exact).insert(std::move(r.name));
  }
  struct CidrFlag {
    const char* flag;
    const std::vector<std::string>& values;
    std::vector<Cidr>& into;
  };
  for (const CidrFlag& f : {CidrFlag{"--allow-dst", flags.allow_dst, e.allow_dst_},
                            CidrFlag{"--deny-dst", flags.deny_dst, e.deny_dst_},
                            CidrFlag{"--allow-src", flags.allow_src, e.allow_src_}}) {
    auto cidrs = parse_list(f.flag, f.values, parse_cidr);
    if (!cidrs) return parse_error<Egress>(cidrs.error());
    f.into = std::move(*cidrs);
  }
  // Giving the flag replaces the default, so the list reads as the whole truth.
  struct PortFlag {
    const char* flag;
    const std::vector<std::string>& values;
    std::vector<std::string> fallback;
    std::vector<PortRange>& into;
  };
  for (const PortFlag& f : {PortFlag{"--connect-ports", flags.connect_ports, {"443"}, e.connect_ports_},
                            PortFlag{"--http-ports", flags.http_ports, {"80,443,1025-65535"}, e.http_ports_}}) {
    auto ports = parse_list(f.flag, f.values.empty() ? f.fallback : f.values, PortRange::parse);
    if (!ports) return parse_error<Egress>(ports.error());
    f.into = std::move(*ports);
  }
  return e;
}

std::optional<Denial> Egress::check_source(const IpAddr& client, bool authenticated) const {
  const IpAddr c = unmapped(client);
  if (open_ || is_loopback(c) || any_contains(allow_src_, c) || (authenticated && auth_configured_)) return std::nullopt;
  if (auth_configured_)
    return Denial{"source", fmt::format("client {} is not in --allow-src and has not authenticated", c.str()),
                  fmt::format("--allow-src {}, or authenticate", host_cidr(c))};
  return Denial{"source", fmt::format("client {} is not in --allow-src", c.str()), fmt::format("--allow-src {} or --auth", host_cidr(c))};
}

std::optional<Denial> Egress::check_domain(std::string_view name) const {
  if (auto rule = deny_domains_.match(name))
    return Denial{"deny-domain", fmt::format("{} matches --deny-domain {}", name, *rule), fmt::format("remove --deny-domain {}", *rule)};
  return std::nullopt;
}

// name is empty when the host was an address literal; name_allowed: it matched --allow-domain.
std::optional<Denial> Egress::judge(const IpAddr& a, std::string_view name, bool name_allowed) const {
  auto subject = [&] { return name.empty() ? a.str() : fmt::format("{} resolves to {}", name, a.str()); };
  for (const Cidr& c : deny_dst_)
    if (c.contains(a)) return Denial{"deny-dst", fmt::format("{}, in --deny-dst {}", subject(), c.str()), fmt::format("remove --deny-dst {}", c.str())};
  // Only --allow-dst lifts a default denial: a name is no proof of where it points.
  if (any_contains(allow_dst_, a)) return std::nullopt;
  if (const RangeText* r = default_range(a))
    return Denial{r->rule, fmt::format("{}, {}", subject(), r->what), fmt::format("--allow-dst {}", host_cidr(a))};
  if (allowlist_mode() && !name_allowed) {
    if (name.empty())
      return Denial{"not-allowlisted", fmt::format("{} is not in --allow-dst", a.str()), fmt::format("--allow-dst {}", host_cidr(a))};
    return Denial{"not-allowlisted", fmt::format("{}, which is not in --allow-dst, and the name is not in --allow-domain", subject()),
                  fmt::format("--allow-domain {}", name)};
  }
  return std::nullopt;
}

std::optional<Denial> Egress::check_name(std::string_view host, uint16_t port, Kind kind) const {
  const bool tunnel = kind == Kind::tunnel;
  const std::vector<PortRange>& ports = tunnel ? connect_ports_ : http_ports_;
  if (std::none_of(ports.begin(), ports.end(), [&](const PortRange& p) { return p.contains(port); })) {
    // The hint keeps the current list: the flag replaces it.
    const char* flag = tunnel ? "--connect-ports" : "--http-ports";
    return Denial{tunnel ? "connect-port" : "http-port", fmt::format("port {} is not in {} {}", port, flag, ports_str(ports)),
                  fmt::format("{} {},{}", flag, ports_str(ports), port)};
  }
  if (auto a = parse_any_address(host)) return judge(*a, {}, false);
  auto name = canonical_name(host);
  if (!name) return bad_name(host, name.error());
  if (auto d = check_domain(*name)) return d;
  // With --allow-dst, an address may still admit the name; that waits for check_addresses.
  if (allowlist_mode() && allow_dst_.empty() && !allow_domains_.match(*name))
    return Denial{"not-allowlisted", fmt::format("{} is not in --allow-domain", *name), fmt::format("--allow-domain {}", *name)};
  return std::nullopt;
}

Egress::Verdict Egress::check_addresses(std::string_view host, std::span<const IpAddr> addresses) const {
  Verdict v;
  std::string name;
  bool name_allowed = false;
  if (!parse_any_address(host)) {
    auto n = canonical_name(host);
    if (!n) {
      v.denial = bad_name(host, n.error());
      return v;
    }
    if ((v.denial = check_domain(*n))) return v;
    name = std::move(*n);
    name_allowed = allow_domains_.match(name).has_value();
  }
  std::optional<Denial> first;
  for (const IpAddr& given : addresses) {
    const IpAddr a = unmapped(given);
    if (std::find(v.allowed.begin(), v.allowed.end(), a) != v.allowed.end()) continue;
    auto d = judge(a, name, name_allowed);
    if (!d)
      v.allowed.push_back(a);
    else if (!first)
      first = std::move(d);
  }
  if (v.allowed.empty()) v.denial = std::move(first);
  return v;
}

std::string Egress::describe() const {
  std::string s;
  if (!allowlist_mode()) {
    s = fmt::format("egress: default (public only; denied: {})", kDeniedRules);
  } else {
    s = "egress: allowlist (";
    if (!allow_domains_.empty()) s += "--allow-domain " + allow_domains_.str() + (allow_dst_.empty() ? "" : "; ");
    if (!allow_dst_.empty()) s += "--allow-dst " + cidrs_str(allow_dst_);
    s += fmt::format("; denied even for allowed names, unless in --allow-dst: {})", kDeniedRules);
  }
  if (!deny_domains_.empty() || !deny_dst_.empty()) {
    s += "\negress deny:";
    if (!deny_domains_.empty()) s += " --deny-domain " + deny_domains_.str();
    if (!deny_dst_.empty()) s += " --deny-dst " + cidrs_str(deny_dst_);
  }
  s += fmt::format("\negress ports: CONNECT {}; HTTP {}", ports_str(connect_ports_), ports_str(http_ports_));
  if (open_) {
    s += "\nclients: any (--open)";
  } else {
    s += "\nclients: loopback";
    if (!allow_src_.empty()) s += ", " + cidrs_str(allow_src_);
    if (auth_configured_) s += ", authenticated";
  }
  return s;
}

bool listen_needs_guard(const IpAddr& listen, const EgressFlags& flags) {
  return !is_loopback(unmapped(listen)) && flags.allow_src.empty() && !flags.auth_configured && !flags.open;
}

}  // namespace edge::policy
