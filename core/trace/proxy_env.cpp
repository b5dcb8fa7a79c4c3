// Proxy selection from the environment. The curl half follows curl's lib/url.c (detect_proxy) and
// lib/noproxy.c; the Go half follows golang.org/x/net/http/httpproxy (what net/http's
// ProxyFromEnvironment uses), evaluated only to say when a Go client would behave differently.
#include "core/trace/proxy_env.h"

#include <fmt/format.h>

#include <boost/url/pct_string_view.hpp>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string_view>

#include "core/net/addr.h"

namespace edge {
namespace {

constexpr const char* kExpected =
    "expected [scheme://][user:pass@]host[:port], scheme http, https, socks4, socks4a, socks5 or socks5h";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

struct EnvVar {
  std::string name, value;
};

// The first of names that is set to something non-empty: curl_getenv and Go's getEnvAny both
// skip empty values, so `https_proxy= curl ...` falls through to HTTPS_PROXY in both.
std::optional<EnvVar> first_set(const ProxyEnv& env, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = env.find(n);
    if (it != env.end() && !it->second.empty()) return EnvVar{n, it->second};
  }
  return std::nullopt;
}

// userinfo as curl reads it: percent-decoded (Boost.URL); text that is not valid
// percent-encoding ("50%") is taken as it is.
std::string pct_decoded(std::string_view text) {
  auto pct = boost::urls::make_pct_string_view(text);
  return pct ? pct->decode() : std::string(text);
}

// The password sits between the first ':' after "://" and the last '@'. Taking the last '@' masks
// the whole password even when it holds an unencoded '@' or '/', and works on unparsable values too.
std::string mask_password(std::string_view text) {
  auto sep = text.find("://");
  size_t start = sep == std::string_view::npos ? 0 : sep + 3;
  auto at = text.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(text);
  auto colon = text.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(text);
  return fmt::format("{}***{}", text.substr(0, colon + 1), text.substr(at));
}

bool is_loopback(const IpAddr& ip) {
  const uint8_t* b = ip.bytes();
  if (ip.family() == Family::v4) return b[0] == 127;
  static constexpr uint8_t kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(b, b + 16, kOne) || (std::equal(b, b + 12, kMapped) && b[12] == 127);
}

struct ParsedProxy {
  ProxyUrl url;
  bool had_port = false;  // Go's defaults differ from curl's, so remember whether we defaulted
};

// Returns the cause ("has ...", "is ...") on failure; parse_proxy_url wraps it into one line.
std::optional<ParsedProxy> parse_parts(std::string_view text, std::string& cause) {
  auto fail = [&](std::string why) {
    cause = std::move(why);
    return std::optional<ParsedProxy>();
  };
  if (text.empty()) return fail("is empty");
  for (char c : text)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail("contains a blank or control character");

  ParsedProxy p;
  std::string_view rest = text;
  if (auto sep = text.find("://"); sep != std::string_view::npos) {
    p.url.scheme = lower(text.substr(0, sep));
    rest = text.substr(sep + 3);
    bool known = false;
    for (const char* s : {"http", "https", "socks4", "socks4a", "socks5", "socks5h"}) known |= p.url.scheme == s;
    if (!known) return fail(fmt::format("has scheme '{}'", text.substr(0, sep)));
  } else {
    p.url.scheme = "http";  // curl's default for a bare host[:port]
  }

  auto end = rest.find_first_of("/?#");
  if (end != std::string_view::npos) {
    // The tail is not quoted: with an unencoded '/' in a password it would hold part of it.
    if (rest.substr(end) != "/") return fail("has a path, query or fragment (only '/' may follow host:port)");
    rest = rest.substr(0, end);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    auto colon = userinfo.find(':');
    // Percent-encoded, as curl reads them: "p%40ss" is the password "p@ss".
    p.url.user = pct_decoded(userinfo.substr(0, colon));
    p.url.has_password = colon != std::string_view::npos;
    if (p.url.has_password) p.url.password = pct_decoded(userinfo.substr(colon + 1));
    rest = rest.substr(at + 1);
  }

  std::string_view host = rest, port;
  bool has_port_sep = false;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return fail("has an unclosed '['");
    host = rest.substr(1, close - 1);
    auto ip = IpAddr::parse(host);
    if (!ip || ip->family() != Family::v6) return fail("has a bracketed host that is not an IPv6 address");
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') return fail("has text after ']' that is not :port");
    has_port_sep = !after.empty();
    if (has_port_sep) port = after.substr(1);
  } else if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    if (rest.find(':', colon + 1) != std::string_view::npos)
      return fail("has an IPv6 host without brackets (write [2001:db8::1]:1080)");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    has_port_sep = true;
  }
  if (host.empty()) return fail("has no host");
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == ':';
    if (!ok) return fail(fmt::format("has an invalid host name '{}'", host));
  }
  p.url.host = std::string(host);

  if (has_port_sep) {
    if (port.empty()) return fail("has ':' but no port");
    auto n = parse_port(port);
    if (!n) return fail(fmt::format("has port '{}', not a number from 1 to 65535", port));
    p.url.port = *n;
    p.had_port = true;
  } else {
    // curl: "443 for https proxies and 1080 for all others" (CURLOPT_PROXYPORT), http included.
    p.url.port = p.url.scheme == "https" ? 443 : 1080;
  }
  return p;
}

bool same_endpoint(const ProxyUrl& a, const ProxyUrl& b) {
  return a.scheme == b.scheme && lower(a.host) == lower(b.host) && a.port == b.port;
}

// ---- curl's no_proxy (lib/noproxy.c) ----

bool curl_token_matches(std::string_view token, const std::string& name, const std::optional<IpAddr>& ip) {
  if (ip) {
    auto net = Cidr::parse(token);
    if (!net) return false;  // names, and tokens with a port, never match an address
    // curl reads "/0" as "no prefix given": the token's address must match exactly.
    if (net->prefix() == 0) return net->network() == *ip;
    return net->contains(*ip);
  }
  std::string t = lower(token);
  if (!t.empty() && t.back() == '.') t.pop_back();
  if (!t.empty() && t.front() == '.') t.erase(0, 1);
  if (t.empty() || t.size() > name.size()) return false;
  if (t.size() == name.size()) return t == name;
  return name.compare(name.size() - t.size(), t.size(), t) == 0 && name[name.size() - t.size() - 1] == '.';
}

}  // namespace

// Only the whole value "*" is a wildcard; a "*" among other tokens is a name that never matches.
// Blanks separate tokens as well as commas, as in curl up to 8.8 (Debian 12 ships 7.88); curl 8.9
// stopped at the first blank-only gap, which after_blank_gap lets the reason point out.
std::optional<NoProxyHit> curl_no_proxy_match(std::string_view list, std::string_view host) {
  if (list == "*") return NoProxyHit{"*"};
  auto addr = IpAddr::parse(host);
  std::optional<IpAddr> ip;
  if (addr) ip = *addr;
  std::string name = lower(host);
  if (!ip && !name.empty() && name.back() == '.') name.pop_back();
  size_t i = 0;
  bool first = true;
  while (i < list.size()) {
    bool comma = false;
    while (i < list.size() && (is_blank(list[i]) || list[i] == ',')) comma |= list[i++] == ',';
    size_t begin = i;
    while (i < list.size() && !is_blank(list[i]) && list[i] != ',') ++i;
    std::string_view token = list.substr(begin, i - begin);
    if (token.empty()) break;
    if (curl_token_matches(token, name, ip)) return NoProxyHit{std::string(token), !first && !comma};
    first = false;
  }
  return std::nullopt;
}

namespace {

// ---- Go's rules (x/net/http/httpproxy: FromEnvironment, config.init, useProxy) ----

struct GoView {
  enum Kind { direct, proxy, refuse, unusable } kind = direct;
  std::string variable, value;  // the proxy variable Go reads
  std::optional<ProxyUrl> url;  // with Go's default port
  std::string no_proxy_variable, token;
  std::string why;  // for direct: the cause
};

// Go splits on commas only and trims each token; "*" anywhere matches all; "a.com" matches itself
// and subdomains; ".a.com" and "*.a.com" subdomains only; IPs, CIDRs and names may carry a :port.
std::optional<std::string> go_no_proxy_match(std::string_view list, const std::string& host, uint16_t port) {
  const std::string h = lower(host);
  auto addr = IpAddr::parse(h);
  const std::string port_text = std::to_string(port);
  while (true) {
    auto comma = list.find(',');
    std::string_view raw = trim(list.substr(0, comma));
    std::string p = lower(raw);
    if (!p.empty()) {
      if (p == "*") return std::string(raw);
      std::optional<Cidr> net;
      if (p.find('/') != std::string::npos)
        if (auto c = Cidr::parse(p)) net = *c;
      if (net) {
        if (addr && net->contains(*addr)) return std::string(raw);
      } else {
        // net.SplitHostPort: "[v6]:port" or "host:port" with exactly one colon; otherwise no port.
        std::string phost = p, pport;
        if (p.front() == '[') {
          auto close = p.find(']');
          if (close != std::string::npos && close + 1 < p.size() && p[close + 1] == ':') {
            phost = p.substr(1, close - 1);
            pport = p.substr(close + 2);
          }
        } else if (auto c = p.find(':'); c != std::string::npos && p.find(':', c + 1) == std::string::npos) {
          phost = p.substr(0, c);
          pport = p.substr(c + 1);
        }
        const bool port_ok = pport.empty() || pport == port_text;
        if (auto pip = IpAddr::parse(phost)) {
          if (addr && *addr == *pip && port_ok) return std::string(raw);
        } else if (!phost.empty()) {
          if (phost.rfind("*.", 0) == 0) phost.erase(0, 1);
          const bool match_itself = phost.front() != '.';
          if (match_itself) phost.insert(0, ".");
          const bool suffix = h.size() >= phost.size() && h.compare(h.size() - phost.size(), phost.size(), phost) == 0;
          if ((suffix || (match_itself && h == phost.substr(1))) && port_ok) return std::string(raw);
        }
      }
    }
    if (comma == std::string_view::npos) return std::nullopt;
    list.remove_prefix(comma + 1);
  }
}

GoView go_view(bool https, const std::string& host, uint16_t port, const ProxyEnv& env) {
  GoView g;
  auto var = https ? first_set(env, {"HTTPS_PROXY", "https_proxy"}) : first_set(env, {"HTTP_PROXY", "http_proxy"});
  if (!var) {
    g.why = https ? "HTTPS_PROXY and https_proxy are unset and it never reads all_proxy or ALL_PROXY"
                  : "HTTP_PROXY and http_proxy are unset and it never reads all_proxy or ALL_PROXY";
    return g;
  }
  g.variable = var->name;
  g.value = var->value;
  std::string cause;
  auto parsed = parse_parts(var->value, cause);
  if (!parsed) {
    g.why = fmt::format("it ignores {}, whose value is not a usable URL", var->name);
    return g;
  }
  // net/http's canonicalAddr defaults an http:// proxy to port 80 (curl: 1080); https and socks agree.
  if (!parsed->had_port && parsed->url.scheme == "http") parsed->url.port = 80;
  g.url = parsed->url;
  // The CGI guard comes before no_proxy in Go: the request fails even for localhost.
  if (!https && first_set(env, {"REQUEST_METHOD"})) {
    g.kind = GoView::refuse;
    return g;
  }
  auto ip = IpAddr::parse(host);
  if (host == "localhost" || (ip && is_loopback(*ip))) {
    g.why = host == "localhost" ? "it never proxies localhost" : "it never proxies loopback addresses";
    return g;
  }
  if (auto np = first_set(env, {"NO_PROXY", "no_proxy"})) {
    g.no_proxy_variable = np->name;
    if (auto token = go_no_proxy_match(np->value, host, port)) {
      g.token = *token;
      g.why = fmt::format("its {} token '{}' matches {}", np->name, *token, host);
      return g;
    }
  }
  const bool socks4 = parsed->url.scheme == "socks4" || parsed->url.scheme == "socks4a";
  g.kind = socks4 ? GoView::unusable : GoView::proxy;
  return g;
}

// Why curl matched a token that Go does not (curl bypassed, Go proxies).
std::string hint_curl_only(const NoProxyHit& hit, const std::string& curl_var, const std::string& go_var) {
  if (!go_var.empty() && go_var != curl_var) return fmt::format(" (Go reads {} first)", go_var);
  if (hit.after_blank_gap) return " (Go separates no_proxy names with commas only)";
  if (hit.token.front() == '.') return " (in Go a leading '.' means subdomains only)";
  if (hit.token.back() == '.') return " (Go does not ignore a trailing '.')";
  return "";
}

// Why Go matched a token that curl does not (Go bypasses, curl proxies).
std::string hint_go_only(const std::string& token, const std::string& curl_var, const std::string& go_var) {
  if (go_var != curl_var) return fmt::format(" (curl reads {} first)", curl_var);
  if (token == "*") return " (curl honours '*' only as the whole value)";
  if (token.rfind("*.", 0) == 0) return " (curl reads a leading '*' literally, so the token never matches)";
  if (token.ends_with("/0")) return " (curl reads /0 as one address)";
  if (token.find(':') != std::string::npos && !IpAddr::parse(token)) return " (curl never matches a token with a port)";
  return "";
}

std::optional<std::string> go_difference(const ProxyDecision& d, const std::optional<NoProxyHit>& hit,
                                         const GoView& g, const std::string& host) {
  const std::string go_value = mask_password(g.value);
  switch (g.kind) {
    case GoView::refuse:
      return fmt::format("Go's net/http would fail the request: REQUEST_METHOD is set, so it refuses to use {} "
                         "for http:// (its CGI guard against httpoxy)", g.variable);
    case GoView::unusable:
      return fmt::format("Go's net/http would try {} ({}) and fail: it has no SOCKS4 support", g.variable, go_value);
    case GoView::direct:
      if (!d.proxy) return std::nullopt;
      return fmt::format("Go's net/http would connect directly: {}{}", g.why,
                         g.token.empty() ? "" : hint_go_only(g.token, d.no_proxy_variable, g.no_proxy_variable));
    case GoView::proxy:
      break;
  }
  if (!d.proxy) {
    std::string why;
    if (hit) {
      why = fmt::format("curl's {} token '{}' matches {} but Go's no_proxy rules do not{}", d.no_proxy_variable,
                        hit->token, host, hint_curl_only(*hit, d.no_proxy_variable, g.no_proxy_variable));
    } else {
      why = fmt::format("it also reads upper-case {}, which curl ignores for http:// (httpoxy)", g.variable);
    }
    return fmt::format("Go's net/http would use {} ({}): {}", g.variable, go_value, why);
  }
  if (same_endpoint(*d.proxy, *g.url)) return std::nullopt;
  if (g.variable != d.variable) {
    // Go picks another variable only by reading upper case first, or (http://) by taking
    // HTTP_PROXY where curl fell through to all_proxy, which Go never reads.
    const bool curl_all = d.variable == "all_proxy" || d.variable == "ALL_PROXY";
    return fmt::format("Go's net/http would use {} ({}) instead of {}: {}", g.variable, go_value, d.variable,
                       curl_all ? "it never reads all_proxy or ALL_PROXY, and it reads HTTP_PROXY, which curl "
                                  "ignores for http:// (httpoxy)"
                                : fmt::format("it reads {} before {}", g.variable, d.variable));
  }
  return fmt::format("Go's net/http would connect to the proxy on port {}: its default port for {}:// proxies is {}, "
                     "curl's is {}", g.url->port, g.url->scheme, g.url->port, d.proxy->port);
}

}  // namespace

std::optional<ProxyUrl> parse_proxy_url(const std::string& text, std::string& error) {
  std::string cause;
  auto p = parse_parts(text, cause);
  if (!p) {
    error = fmt::format("'{}' is not a usable proxy URL: it {} ({})", mask_password(text), cause, kExpected);
    return std::nullopt;
  }
  return p->url;
}

ProxyDecision decide_proxy(const std::string& scheme_in, const std::string& host_in, uint16_t port,
                           const ProxyEnv& env, const std::optional<std::string>& override_proxy) {
  ProxyDecision d;
  const std::string scheme = lower(scheme_in);
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  if (override_proxy) {
    d.variable = "--proxy";
    d.raw_value = mask_password(*override_proxy);
    if (lower(*override_proxy) == "none") {
      d.reason = "--proxy none: connecting directly without consulting the environment";
      return d;
    }
    std::string err;
    d.proxy = parse_proxy_url(*override_proxy, err);
    if (!d.proxy) {
      d.error = "--proxy: " + err;
      d.reason = "--proxy is not a usable proxy URL";
    } else {
      d.reason = "--proxy is given, so the proxy variables and no_proxy are not consulted";
    }
    return d;
  }

  const bool http = scheme == "http";
  const bool https = scheme == "https" || scheme == "tls";
  if (!http && !https) {
    d.reason = fmt::format("{} targets never take a proxy from the environment (pass --proxy to use one)", scheme);
    return d;
  }

  // curl: <scheme>_proxy, its upper-case form except HTTP_PROXY (a CGI "Proxy:" header arrives
  // as HTTP_PROXY: httpoxy), then all_proxy and ALL_PROXY.
  auto var = http ? first_set(env, {"http_proxy", "all_proxy", "ALL_PROXY"})
                  : first_set(env, {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"});
  std::optional<NoProxyHit> hit;
  if (!var) {
    if (http && first_set(env, {"HTTP_PROXY"}))
      d.reason = "no proxy variable applies: curl (and edge) read only lower-case http_proxy for http:// targets, "
                 "so HTTP_PROXY is ignored (httpoxy)";
    else
      d.reason = http ? "no proxy variable is set (http_proxy, all_proxy, ALL_PROXY)"
                      : "no proxy variable is set (https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY)";
  } else {
    d.variable = var->name;
    d.raw_value = mask_password(var->value);
    auto np = first_set(env, {"no_proxy", "NO_PROXY"});
    if (np) {
      d.no_proxy_variable = np->name;
      hit = curl_no_proxy_match(np->value, host);
    }
    if (hit) {
      d.no_proxy_token = hit->token;
      d.reason = hit->token == "*"
                     ? fmt::format("{} is '*', which matches every host, so {} is not used", np->name, var->name)
                     : fmt::format("{} token '{}' matches {}, so {} is not used", np->name, hit->token, host, var->name);
      if (hit->after_blank_gap)
        d.reason += " (curl 8.9 and later stop reading no_proxy at a blank that has no comma: separate names with commas)";
    } else {
      std::string err;
      d.proxy = parse_proxy_url(var->value, err);
      if (!d.proxy) {
        // curl would fail the transfer here; comparing with Go adds nothing useful.
        d.error = fmt::format("{}: {}", var->name, err);
        d.reason = fmt::format("{} is set but is not a usable proxy URL", var->name);
        return d;
      }
      d.reason = np ? fmt::format("{} is set and {} (\"{}\") does not match {}", var->name, np->name, np->value, host)
                    : fmt::format("{} is set and neither no_proxy nor NO_PROXY is set", var->name);
    }
  }
  d.go_differs = go_difference(d, hit, go_view(https, host, port, env), host);
  return d;
}

ProxyEnv proxy_env_from_process() {
  ProxyEnv env;
  for (const char* name : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                           "no_proxy", "NO_PROXY", "REQUEST_METHOD"}) {
    if (const char* v = std::getenv(name)) env.emplace(name, v);
  }
  return env;
}

}  // namespace edge
