// Address-and-port forms of `edge nat`; see nat_spec.h.
#include "core/net/nat_spec.h"

#include <fmt/format.h>

namespace edge {
namespace {

// Splits "[v6]:ports", "v4:ports", "name:ports", "v6" (no port) into host and port text.
struct Split {
  std::string_view host, ports;
  bool has_ports = false;
};

Parsed<Split> split_host_ports(std::string_view text) {
  Split s;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return parse_error<Split>(std::string("has '[' without ']' (expected [IPV6]:PORT)"));
    s.host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return parse_error<Split>(std::string("has text after ']' that is not :PORT"));
      s.ports = rest.substr(1), s.has_ports = true;
    }
    return s;
  }
  const auto first = text.find(':');
  if (first != std::string_view::npos && text.find(':', first + 1) == std::string_view::npos) {
    s.host = text.substr(0, first), s.ports = text.substr(first + 1), s.has_ports = true;
    return s;
  }
  s.host = text;  // no colon, or an IPv6 address without a port
  return s;
}

bool host_chars_ok(std::string_view h) {
  for (char c : h) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) return false;
  }
  return !h.empty() && h.size() <= 253;
}

}  // namespace

Parsed<HostPorts> parse_host_ports(std::string_view text) {
  auto s = split_host_ports(text);
  if (!s) return parse_error<HostPorts>(s.error());
  if (!host_chars_ok(s->host)) return parse_error<HostPorts>(std::string("is not ADDR[:PORT[-PORT]] (e.g. 10.0.2.2, 10.0.2.2:80, [fd00::2]:80-84, name:80)"));
  if (s->host.find(':') != std::string_view::npos && !IpAddr::parse(s->host))
    return parse_error<HostPorts>(std::string("is not ADDR[:PORT[-PORT]] (an IPv6 address with a port is written [ADDR]:PORT)"));
  HostPorts hp{std::string(s->host), std::nullopt};
  if (s->has_ports) {
    auto r = PortRange::parse(s->ports);
    if (!r) return parse_error<HostPorts>(r.error());
    hp.ports = *r;
  }
  return hp;
}

Parsed<AddrRangePorts> parse_addr_range_ports(std::string_view text) {
  // An IPv6 range is written [a-b] or [a]-[b]; the second form is not HOST:PORT-shaped, so it
  // is split here.
  std::string_view addrs, ports;
  bool has_ports = false;
  if (text.size() > 1 && text.front() == '[' && text.find("]-[") != std::string_view::npos) {
    const auto second_close = text.find(']', text.find("]-[") + 3);
    if (second_close == std::string_view::npos) return parse_error<AddrRangePorts>(std::string("has '[' without ']'"));
    addrs = text.substr(0, second_close + 1);
    const std::string_view rest = text.substr(second_close + 1);
    has_ports = !rest.empty();
    if (has_ports && rest.front() != ':') return parse_error<AddrRangePorts>(std::string("has text after ']' that is not :PORT-PORT"));
    if (has_ports) ports = rest.substr(1);
  } else {
    auto s = split_host_ports(text);
    if (!s) return parse_error<AddrRangePorts>(s.error());
    addrs = s->host, ports = s->ports, has_ports = s->has_ports;
  }
  auto strip = [](std::string_view a) {
    if (a.size() >= 2 && a.front() == '[' && a.back() == ']') return a.substr(1, a.size() - 2);
    return a;
  };
  const auto dash = addrs.find("-");
  const std::string_view lo_text = strip(addrs.substr(0, dash));
  const std::string_view hi_text = dash == std::string_view::npos ? lo_text : strip(addrs.substr(dash + 1));
  auto lo = IpAddr::parse(lo_text);
  if (!lo) return parse_error<AddrRangePorts>(fmt::format("has '{}', which is not an IP address (expected ADDR[-ADDR][:PORT-PORT])", lo_text));
  auto hi = IpAddr::parse(hi_text);
  if (!hi) return parse_error<AddrRangePorts>(fmt::format("has '{}', which is not an IP address (expected ADDR[-ADDR][:PORT-PORT])", hi_text));
  if (lo->family() != hi->family()) return parse_error<AddrRangePorts>(std::string("mixes IPv4 and IPv6 in one range"));
  if (*hi < *lo) return parse_error<AddrRangePorts>(fmt::format("is an empty range ({} > {}; expected LOW-HIGH)", lo->str(), hi->str()));
  AddrRangePorts r{*lo, *hi, std::nullopt};
  if (has_ports) {
    auto p = PortRange::parse(ports);
    if (!p) return parse_error<AddrRangePorts>(p.error());
    r.ports = *p;
  }
  return r;
}

Parsed<ListenSpec> parse_listen_spec(std::string_view text) {
  ListenSpec l;
  auto s = split_host_ports(text);
  if (!s) return parse_error<ListenSpec>(s.error());
  std::string_view ports = s->has_ports ? s->ports : s->host;
  if (s->has_ports && !s->host.empty()) {
    auto a = IpAddr::parse(s->host);
    if (!a) return parse_error<ListenSpec>(fmt::format("has '{}', which is not an IP address (expected [ADDR:]PORT[-PORT])", s->host));
    l.addr = *a;
  } else if (!s->has_ports && s->host.find(':') != std::string_view::npos) {
    return parse_error<ListenSpec>(std::string("is not [ADDR:]PORT[-PORT] (an IPv6 address is written [ADDR]:PORT)"));
  }
  auto p = PortRange::parse(ports);
  if (!p) return parse_error<ListenSpec>(p.error());
  l.ports = *p;
  return l;
}

}  // namespace edge
