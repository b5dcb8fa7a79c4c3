// What `edge trace` probes: a URL (http/https, parsed with Boost.URL), tls://HOST:PORT (TLS
// without HTTP) or HOST:PORT (plain TCP). One rule decides what a host may be, for every form:
// an IP address literal (IPv4-mapped IPv6 counts as the IPv4 address it carries), or a DNS
// name of letters, digits, '-' and '_' in labels of 1-63 bytes, 253 at most; international
// names become punycode (IDNA2008 through libidn2). Anything else (percent-encoding, NUL,
// empty labels, "127.1") is refused before any probe, so nothing is probed as something else.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/base/parsed.h"
#include "core/net/addr.h"

namespace edge::trace {

struct Target {
  std::string text;    // as given
  std::string scheme;  // "http", "https", "tls", "tcp"
  std::string host;    // ASCII name (punycode for IDN) or address literal, without brackets
  uint16_t port = 0;
  std::string path = "/";  // path and query, for the HTTP request
  // The address when host is a literal; an IPv4-mapped IPv6 literal is its IPv4 address here,
  // so route, tcp and every later layer use IPv4 (as curl and the kernel do).
  std::optional<IpAddr> address;
  bool host_is_literal = false;
  bool explicit_port = false;
  std::string idn;  // the name as typed when host is its punycode form

  bool wants_tls() const { return scheme == "https" || scheme == "tls"; }
  bool wants_http() const { return scheme == "http" || scheme == "https"; }
  // "host:port" with brackets for IPv6, for CONNECT and Host headers.
  std::string authority() const;
};

Parsed<Target> parse_target(std::string_view text);

// A redirect's Location resolved against the URL of `base` (RFC 3986 5.2: relative paths,
// "//host/...", absolute URLs), without its fragment: the absolute URL to follow.
Parsed<std::string> resolve_location(const Target& base, std::string_view location);

// An address literal as the layers use it: IPv4-mapped IPv6 (::ffff:192.0.2.1) is IPv4.
std::optional<IpAddr> address_literal(std::string_view host);

// The host rule above, for a host without brackets; returns the ASCII form to probe.
Parsed<std::string> check_host(std::string_view host);

}  // namespace edge::trace
