// Target parsing: URLs through Boost.URL; HOST:PORT forms through edge's endpoint parser; the
// host of either through one rule (check_host). libidn2 is loaded only when a name is not
// ASCII, so every other run (and conntrack) maps nothing of it.
#include "core/trace/target.h"

#include <dlfcn.h>
#include <idn2.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

namespace edge::trace {
namespace {

constexpr const char* kAccepted =
    "is not a target (expected a URL such as https://example.com/path, tls://HOST:PORT, or HOST:PORT)";

Parsed<std::string> ok(std::string s) { return Parsed<std::string>(boost::system::in_place_value, std::move(s)); }

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

std::string quoted_char(unsigned char c) {
  if (c >= 0x21 && c < 0x7f) return std::string("'") + char(c) + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

// IDNA2008 (UTS #46 non-transitional, as browsers and curl do) through libidn2, loaded here.
Parsed<std::string> idn_to_ascii(const std::string& name) {
  using ToAscii = int (*)(const char*, char**, int);
  using StrError = const char* (*)(int);
  using Free = void (*)(void*);
  struct Api {
    ToAscii to_ascii = nullptr;
    StrError strerror = nullptr;
    Free free = nullptr;
  };
  static const Api api = [] {
    Api a;
    void* h = dlopen("libidn2.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h) return a;
    a.to_ascii = reinterpret_cast<ToAscii>(dlsym(h, "idn2_to_ascii_8z"));
    a.strerror = reinterpret_cast<StrError>(dlsym(h, "idn2_strerror"));
    a.free = reinterpret_cast<Free>(dlsym(h, "idn2_free"));
    if (!a.strerror || !a.free) a.to_ascii = nullptr;
    return a;
  }();
  if (!api.to_ascii)
    return parse_error<std::string>("is an international name, and libidn2 (libidn2-0) is not installed to convert it; "
                                    "write its punycode form (xn--...)");
  char* out = nullptr;
  const int rc = api.to_ascii(name.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) return parse_error<std::string>(std::string("is not a valid international name (") + api.strerror(rc) + ")");
  std::string ascii(out);
  api.free(out);
  return ok(std::move(ascii));
}

// Where the host sits in TEXT: after "scheme://" and any userinfo, before ":port", "/", "?"
// or "#"; brackets included for IPv6.
std::pair<size_t, size_t> host_span(std::string_view text) {
  size_t start = text.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  size_t end = text.find_first_of("/?#", start);
  if (end == std::string_view::npos) end = text.size();
  const size_t at = text.substr(start, end - start).rfind('@');
  if (at != std::string_view::npos) start += at + 1;
  if (start < end && text[start] == '[') {
    const size_t close = text.find(']', start);
    if (close != std::string_view::npos && close < end) end = close + 1;
  } else {
    const size_t colon = text.find(':', start);
    if (colon != std::string_view::npos && colon < end) end = colon;
  }
  return {start, end};
}

}  // namespace

std::optional<IpAddr> address_literal(std::string_view host) {
  auto a = IpAddr::parse(host);
  if (!a) return std::nullopt;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a->family() == Family::v6 && std::equal(kMapped, kMapped + 12, a->bytes()))
    return IpAddr::from_bytes(Family::v4, a->bytes() + 12);
  return *a;
}

Parsed<std::string> check_host(std::string_view host) {
  if (host.empty()) return parse_error<std::string>("has no host");
  if (IpAddr::parse(host)) return ok(std::string(host));
  std::string name(host);
  for (unsigned char c : name) {
    if (c == '%') return parse_error<std::string>("has a percent-encoded host name; write the name itself");
    if (c < 0x20 || c == 0x7f) return parse_error<std::string>("has a control character (" + quoted_char(c) + ") in its host name");
  }
  if (!is_ascii(name)) {
    auto ascii = idn_to_ascii(name);
    if (!ascii) return ascii;
    name = *ascii;
  }
  std::string_view n = name;
  if (n.size() > 1 && n.back() == '.') n.remove_suffix(1);  // the root: "example.com." is fully qualified
  if (n.size() > 253) return parse_error<std::string>("has a host name longer than 253 bytes (" + std::to_string(n.size()) + ")");
  bool numeric_last = false;
  for (size_t at = 0; at <= n.size();) {
    size_t dot = n.find('.', at);
    if (dot == std::string_view::npos) dot = n.size();
    const std::string_view label = n.substr(at, dot - at);
    if (label.empty()) return parse_error<std::string>("has an empty label in its host name ('..', or a leading or lone dot)");
    if (label.size() > 63)
      return parse_error<std::string>("has a host name label longer than 63 bytes (" + std::to_string(label.size()) + ")");
    numeric_last = true;
    for (unsigned char c : label) {
      const bool ok = std::isalnum(c) || c == '-' || c == '_';
      if (!ok) return parse_error<std::string>("has a character that cannot be in a host name (" + quoted_char(c) + ")");
      numeric_last = numeric_last && std::isdigit(c);
    }
    if (label.front() == '-' || label.back() == '-')
      return parse_error<std::string>("has a host name label that starts or ends with '-'");
    at = dot + 1;
  }
  // The resolver would read "127.1" or "10.0.0.0.1"-like names as numbers (inet_aton): refuse
  // what looks like an address but is not one, as WHATWG URLs do.
  if (numeric_last) return parse_error<std::string>("looks like an IPv4 address but is not one (expected four parts 0-255, e.g. 192.0.2.1)");
  return ok(std::move(name));
}

std::string Target::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if (wants_http() && !explicit_port) return h;  // Host: example.com, not example.com:443
  return h + ":" + std::to_string(port);
}

Parsed<std::string> resolve_location(const Target& base, std::string_view location) {
  const std::string base_text = base.scheme + "://" + base.authority() + base.path;
  auto b = boost::urls::parse_uri(base_text);
  if (!b) return parse_error<std::string>("the URL being followed does not parse: " + b.error().message());
  auto ref = boost::urls::parse_uri_reference(location);
  if (!ref) return parse_error<std::string>("is not a URL reference: " + ref.error().message());
  boost::urls::url out;
  if (auto r = boost::urls::resolve(*b, *ref, out); !r) return parse_error<std::string>("cannot be resolved: " + r.error().message());
  out.remove_fragment();
  return Parsed<std::string>(boost::system::in_place_value, std::string(out.buffer()));
}

Parsed<Target> parse_target(std::string_view given) {
  Target t;
  t.text = std::string(given);
  // International names are converted first: URLs and HOST:PORT are ASCII on the wire.
  std::string ascii_text(given);
  const auto [hs, he] = host_span(given);
  if (!is_ascii(given.substr(hs, he - hs))) {
    auto h = check_host(given.substr(hs, he - hs));
    if (!h) return parse_error<Target>(h.error());
    t.idn = std::string(given.substr(hs, he - hs));
    ascii_text.replace(hs, he - hs, *h);
  }
  const std::string_view text = ascii_text;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || text.substr(0, sep) == "tls") {
    // HOST:PORT or tls://HOST:PORT: the port is required, there is no default to guess.
    std::string_view rest = sep == std::string_view::npos ? text : text.substr(sep + 3);
    if (rest.find_first_of("%") != std::string_view::npos)
      return parse_error<Target>("has a percent-encoded host name; write the name itself");
    auto ep = Endpoint::parse(rest);
    if (!ep) {
      if (ep.error().find("missing the port") != std::string::npos)
        return parse_error<Target>(sep == std::string_view::npos
                                       ? "is missing the port (a HOST:PORT target needs one; or write a URL, e.g. https://example.com/)"
                                       : "is missing the port (tls:// targets need one, e.g. tls://mail.example.com:465)");
      return parse_error<Target>(std::string(kAccepted) + ": " + ep.error());
    }
    if (ep->host().empty()) return parse_error<Target>(std::string(kAccepted) + ": the host is missing");
    t.scheme = sep == std::string_view::npos ? "tcp" : "tls";
    t.host = ep->host();
    t.port = ep->port();
    t.explicit_port = true;
  } else {
    // The host as typed, checked before Boost.URL sees it: Boost decodes "%41" to "A", and
    // 1.81 reads "127.0.0.1%41:8080" as 127.0.0.1 with no port.
    const auto [rs, re] = host_span(text);
    const std::string_view raw_host = text.substr(rs, re - rs);
    if (raw_host.find('%') != std::string_view::npos)
      return parse_error<Target>("has a percent-encoded host name; write the name itself");
    if (!raw_host.empty() && raw_host.front() != '[')
      if (auto h = check_host(raw_host); !h) return parse_error<Target>(h.error());
    auto u = boost::urls::parse_uri(text);
    if (!u) return parse_error<Target>(std::string(kAccepted));
    size_t auth_end = text.find_first_of("/?#", sep + 3);
    if (auth_end == std::string_view::npos) auth_end = text.size();
    if (u->encoded_authority() != text.substr(sep + 3, auth_end - sep - 3))
      return parse_error<Target>(std::string(kAccepted) + ": its authority does not parse as HOST[:PORT]");
    t.scheme = std::string(u->scheme());
    for (auto& c : t.scheme) c = char(std::tolower((unsigned char)c));
    if (t.scheme != "http" && t.scheme != "https")
      return parse_error<Target>("has scheme '" + t.scheme + "' (expected http, https or tls)");
    if (u->host_type() == boost::urls::host_type::ipv6) {
      t.host = u->host_ipv6_address().to_string();
    } else if (u->host_type() == boost::urls::host_type::ipv4 || u->host_type() == boost::urls::host_type::name) {
      // The encoded form: Boost.URL would decode "%41" to "A" and "%00" to NUL.
      t.host = std::string(u->encoded_host());
    } else if (u->host_type() == boost::urls::host_type::ipvfuture) {
      return parse_error<Target>("has an IPvFuture host, which cannot be probed");
    }
    if (t.host.empty()) return parse_error<Target>(std::string(kAccepted) + ": the host is missing");
    if (u->has_port()) {
      if (u->port().empty()) return parse_error<Target>("is missing the port after ':' (or drop the ':' for the scheme's default)");
      auto p = parse_port(u->port());
      if (!p) return parse_error<Target>(p.error());
      t.port = *p;
      t.explicit_port = true;
    } else {
      t.port = t.scheme == "https" ? 443 : 80;
    }
    std::string path(u->encoded_path());
    if (path.empty()) path = "/";
    if (u->has_query()) path += "?" + std::string(u->encoded_query());
    t.path = path;
  }
  auto host = check_host(t.host);
  if (!host) return parse_error<Target>(host.error());
  t.host = *host;
  t.address = address_literal(t.host);
  t.host_is_literal = t.address.has_value();
  return t;
}

}  // namespace edge::trace
