// The forward proxy's access policy (Squid's egress pattern): which clients may use `edge proxy`
// and where it may connect them. Names are judged by domain and port, then every address they
// resolve to is judged again, so a name cannot smuggle a request to loopback, the cloud metadata
// service or a private network. Pure logic: no sockets, no resolver.
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/parsed.h"
#include "core/net/addr.h"

namespace edge::policy {

// An address in any spelling the resolver would accept as one: 192.0.2.1, the inet_aton forms
// (127.1, 2130706433, 0x7f000001, 0177.0.0.1), IPv6 with or without brackets. IPv4-mapped IPv6
// (::ffff:127.0.0.1) comes back as the IPv4 address, which is what the kernel connects to.
// Names, zone ids and trailing junk are errors.
Parsed<IpAddr> parse_any_address(std::string_view text);

enum class Kind { http, tunnel };  // tunnel: CONNECT or SOCKS5 CONNECT

// Why a destination or client is refused. rule is one of: "source", "connect-port", "http-port",
// "bad-name", "deny-domain", "deny-dst", "not-allowlisted", and the default-denied ranges
// "metadata", "loopback", "unspecified", "link-local", "private", "multicast".
struct Denial {
  std::string_view rule;
  std::string detail;  // e.g. "a.example.test resolves to 127.0.0.1, a loopback address"
  std::string hint;    // the flag that would allow it, e.g. "--allow-dst 127.0.0.1/32"
};

// The flags as typed; each list holds one string per use of the flag, each a comma list.
struct EgressFlags {
  std::vector<std::string> allow_domain, deny_domain;  // ".example.com" (and subdomains) or "example.com"
  std::vector<std::string> allow_dst, deny_dst;        // CIDRs or addresses
  std::vector<std::string> allow_src;                  // CIDRs of clients, beyond loopback
  std::vector<std::string> connect_ports;              // empty: 443
  std::vector<std::string> http_ports;                 // empty: 80,443,1025-65535
  bool auth_configured = false;                        // --auth: authenticated clients may connect
  bool open = false;                                   // --open: any client may connect
};

class Egress {
 public:
  // Errors read "--FLAG: 'ITEM' <problem>", naming the one bad item of a list.
  static Parsed<Egress> build(const EgressFlags& flags);

  // Rule "source". client may be IPv4-mapped (a dual-stack listener's view of an IPv4 peer).
  std::optional<Denial> check_source(const IpAddr& client, bool authenticated) const;

  // What can be judged before resolving: the port, the name's domain rules, or, for an address
  // literal (any spelling), the address itself. A name outside --allow-domain is refused here
  // only when no --allow-dst could still admit one of its addresses.
  std::optional<Denial> check_name(std::string_view host, uint16_t port, Kind kind) const;

  // Filters what host resolved to. allowed holds the addresses the connection may use (IPv4-mapped
  // ones as IPv4, duplicates dropped); connect only to these, never after a second lookup. When
  // none is left, denial names the rule of the first refused address. No addresses in, no
  // denial out: that is a resolution failure, not a policy one.
  struct Verdict {
    std::vector<IpAddr> allowed;
    std::optional<Denial> denial;
  };
  Verdict check_addresses(std::string_view host, std::span<const IpAddr> addresses) const;

  bool allowlist_mode() const { return !allow_domains_.empty() || !allow_dst_.empty(); }

  // The policy for the start banner, one line per part.
  std::string describe() const;

 private:
  Egress() = default;

  // Domain rules: exact names and suffixes (stored without the leading dot), lower case.
  struct Domains {
    std::set<std::string, std::less<>> exact, suffix;
    bool empty() const { return exact.empty() && suffix.empty(); }
    std::optional<std::string> match(std::string_view name) const;  // the rule as typed, normalised
    std::string str() const;
  };

  std::optional<Denial> check_domain(std::string_view name) const;
  std::optional<Denial> judge(const IpAddr& a, std::string_view name, bool name_allowed) const;

  Domains allow_domains_, deny_domains_;
  std::vector<Cidr> allow_dst_, deny_dst_, allow_src_;
  std::vector<PortRange> connect_ports_, http_ports_;
  bool auth_configured_ = false, open_ = false;
};

// A listener on a non-loopback address with no --allow-src and no --auth would turn away every
// client it was opened for: true when the start must be refused, unless --open says that any
// client may use the proxy. The caller's message names --allow-src, --auth and --open.
bool listen_needs_guard(const IpAddr& listen, const EgressFlags& flags);

}  // namespace edge::policy
