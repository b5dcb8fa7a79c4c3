// Which proxy applies to a target, and why: the proxy environment variables read the way curl
// reads them (edge follows curl), with the places where Go's net/http would decide otherwise
// spelled out. Pure functions of an environment snapshot, so every rule is unit-tested.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace edge {

// The variables that matter, as found in the environment (absent ones are not in the map).
// Keys: http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
// REQUEST_METHOD. A variable set to "" counts as unset, as it does for curl and Go.
using ProxyEnv = std::map<std::string, std::string>;

ProxyEnv proxy_env_from_process();

struct ProxyUrl {
  std::string scheme;  // "http", "https", "socks5", "socks5h", "socks4", "socks4a"
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;   // the URL's, else curl's default: 443 for https, 1080 for every other scheme (http too)
  std::string user;    // userinfo present (never printed with its password)
  bool has_password = false;
  std::string password;  // for Proxy-Authorization only; never printed
};

// "http://proxy:3128", "proxy:3128" (curl assumes http://), "socks5h://[::1]:1080",
// "http://user:secret@proxy:3128/". On failure returns nullopt and sets error to one line that
// quotes the value with its password masked, says what is wrong and what is accepted:
//   'http://proxy:99999' is not a usable proxy URL: it has port '99999', not a number from 1 to
//   65535 (expected [scheme://][user:pass@]host[:port], scheme http, https, socks4, ...)
std::optional<ProxyUrl> parse_proxy_url(const std::string& text, std::string& error);

// curl's no_proxy rules (lib/noproxy.c): whether `host` (a name or an address literal) is
// matched by a token of `list` ("*", "example.com" = itself and subdomains, ".example.com",
// "10.0.0.0/8", "::1"), and which token.
struct NoProxyHit {
  std::string token;
  bool after_blank_gap = false;  // reached only by treating a blank as a separator
};
std::optional<NoProxyHit> curl_no_proxy_match(std::string_view list, std::string_view host);

struct ProxyDecision {
  std::optional<ProxyUrl> proxy;       // the proxy to use; nullopt = connect directly
  std::string variable;                // the variable that supplies the proxy ("https_proxy", "--proxy"),
                                       // also when no_proxy bypasses it; "" when none applies
  std::string raw_value;               // that variable's value, password masked as ***
  std::string no_proxy_variable;       // "no_proxy" / "NO_PROXY" when one was consulted
  std::string no_proxy_token;          // the token that matched (bypass), or ""
  std::string reason;                  // one sentence: why this decision
  std::optional<std::string> go_differs;  // when Go's rules would decide differently: how
  std::optional<std::string> error;    // bad_proxy_url: "<variable>: <parse_proxy_url's message>"
};

// scheme: the target's. "http" and "https" follow curl; "tls" follows the https rules (edge
// tunnels with CONNECT); "tcp" (and anything else) never takes a proxy from the environment.
// host: name or IP literal (no brackets); port: the target port (Go's no_proxy can match it).
// override_proxy: --proxy URL, or "none" to force direct; nullopt = use the environment.
// --proxy wins outright: no_proxy is not consulted for it (curl would still apply no_proxy to -x).
// go_differs is only computed for environment decisions on http, https and tls targets.
ProxyDecision decide_proxy(const std::string& scheme, const std::string& host, uint16_t port, const ProxyEnv& env,
                           const std::optional<std::string>& override_proxy);

}  // namespace edge
