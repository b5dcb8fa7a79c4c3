// Parsing and printing of addresses, prefixes, ports and endpoints.
#include "core/net/addr.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>

namespace edge {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

Parsed<IpAddr> IpAddr::parse(std::string_view text) {
  // inet_pton wants a NUL-terminated string; the longest valid form is INET6_ADDRSTRLEN.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
    return std::string("is not an IP address (expected e.g. 192.0.2.1 or 2001:db8::1)");
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::v4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::v6;
    return a;
  }
  return std::string("is not an IP address (expected e.g. 192.0.2.1 or 2001:db8::1)");
}

IpAddr IpAddr::v4(uint32_t host_order) {
  IpAddr a;
  uint32_t n = htonl(host_order);
  std::memcpy(a.bytes_.data(), &n, 4);
  return a;
}

IpAddr IpAddr::from_bytes(Family f, const void* network_order) {
  IpAddr a;
  a.family_ = f;
  std::memcpy(a.bytes_.data(), network_order, f == Family::v4 ? 4 : 16);
  return a;
}

void IpAddr::append_to(std::string& out) const {
  if (family_ == Family::v4) {
    // Hand-rolled because inet_ntop dominates a 200k-flow listing otherwise.
    char buf[16];
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      unsigned v = bytes_[i];
      if (v >= 100) *p++ = char('0' + v / 100);
      if (v >= 10) *p++ = char('0' + v / 10 % 10);
      *p++ = char('0' + v % 10);
      if (i < 3) *p++ = '.';
    }
    out.append(buf, p);
    return;
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
  out.append(buf);
}

std::string IpAddr::str() const {
  std::string s;
  append_to(s);
  return s;
}

Parsed<Cidr> Cidr::parse(std::string_view text) {
  constexpr const char* accepted = "is not a CIDR (expected ADDRESS[/PREFIX], e.g. 10.0.0.0/8 or 2001:db8::/32)";
  auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::string(accepted);
  Cidr c;
  c.net_ = *addr;
  const int max = addr->family() == Family::v4 ? 32 : 128;
  c.prefix_ = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (!all_digits(p) || p.size() > 3) return std::string(accepted);
    int prefix = std::stoi(std::string(p));
    if (prefix > max) return fmt::format("has prefix length {}, more than {} allows (0-{})", prefix, addr->family() == Family::v4 ? "IPv4" : "IPv6", max);
    c.prefix_ = prefix;
  }
  return c;
}

bool Cidr::contains(const IpAddr& a) const {
  if (a.family() != net_.family()) return false;
  const uint8_t* x = a.bytes();
  const uint8_t* n = net_.bytes();
  int bits = prefix_;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : uint8_t(0xff << (8 - bits));
    if ((x[i] & mask) != (n[i] & mask)) return false;
  }
  return true;
}

std::string Cidr::str() const { return fmt::format("{}/{}", net_.str(), prefix_); }

Parsed<uint16_t> parse_port(std::string_view text) {
  if (!all_digits(text)) return std::string("is not a port (expected a number 1-65535)");
  if (text.size() > 6) return fmt::format("port {} is out of range (1-65535)", text);
  int v = std::stoi(std::string(text));
  if (v < 1 || v > 65535) return fmt::format("port {} is out of range (1-65535)", v);
  return uint16_t(v);
}

Parsed<PortRange> PortRange::parse(std::string_view text) {
  auto sep = text.find_first_of("-:");
  auto lo = parse_port(text.substr(0, sep));
  if (!lo) return lo.error();
  PortRange r;
  r.lo_ = r.hi_ = *lo;
  if (sep != std::string_view::npos) {
    auto hi = parse_port(text.substr(sep + 1));
    if (!hi) return hi.error();
    if (*hi < *lo) return fmt::format("is an empty range ({} > {}; expected LOW-HIGH)", *lo, *hi);
    r.hi_ = *hi;
  }
  return r;
}

Parsed<Endpoint> Endpoint::parse(std::string_view text) {
  constexpr const char* accepted = "is not HOST:PORT (expected e.g. 10.0.0.1:80, [2001:db8::1]:443, name:8080 or :8080)";
  Endpoint e;
  std::string_view host, port;
  if (const auto scheme = text.find("://"); scheme != std::string_view::npos)
    return std::string("is a URL; this flag takes HOST:PORT (e.g. 10.0.0.1:80), not a URL");
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close != std::string_view::npos && (close + 1 == text.size() || text.substr(close + 1) == ":"))
      return std::string("is missing the port (expected HOST:PORT, e.g. [2001:db8::1]:443)");
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::string(accepted);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    auto a = IpAddr::parse(host);
    if (!a || a->family() != Family::v6) return std::string("has a bracketed host that is not an IPv6 address");
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      if (!all_digits(text)) return std::string("is missing the port (expected HOST:PORT, e.g. 10.0.0.1:80 or name:8080)");
      port = text;  // "8080": port only
    } else {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (host.find(':') != std::string_view::npos)
        return std::string("has an IPv6 host without brackets (write [2001:db8::1]:443)");
    }
  }
  if (port.empty()) return std::string("is missing the port (expected HOST:PORT, e.g. 10.0.0.1:80 or name:8080)");
  auto p = parse_port(port);
  if (!p) return p.error();
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == ':';
    if (!ok) return std::string(accepted);
  }
  if (host.size() > 253) return std::string("has a host name longer than 253 characters");
  e.host_ = std::string(host);
  e.port_ = *p;
  return e;
}

bool Endpoint::host_is_literal() const { return IpAddr::parse(host_).has_value(); }

std::string Endpoint::str() const {
  if (host_.find(':') != std::string::npos) return fmt::format("[{}]:{}", host_, port_);
  return fmt::format("{}:{}", host_, port_);
}

}  // namespace edge
