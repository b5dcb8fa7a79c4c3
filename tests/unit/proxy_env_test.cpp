// Proxy selection from the environment: curl's rules (what edge does), Go's rules (go_differs),
// proxy URL parsing and password masking.
#include <doctest/doctest.h>

#include "tests/unit/print_parsed.h"

#include <cstdlib>

#include "core/trace/proxy_env.h"

using namespace edge;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
bool has(const std::optional<std::string>& s, const std::string& part) { return s && has(*s, part); }

ProxyDecision env(const std::string& scheme, const std::string& host, const ProxyEnv& e, uint16_t port = 443) {
  return decide_proxy(scheme, host, port, e, std::nullopt);
}

std::string proxy_host(const ProxyDecision& d) { return d.proxy ? d.proxy->host : "(direct)"; }

}  // namespace

TEST_CASE("proxy URLs: accepted forms and default ports") {
  std::string err;
  auto u = parse_proxy_url("http://proxy.corp:3128", err);
  REQUIRE(u);
  CHECK(u->scheme == "http");
  CHECK(u->host == "proxy.corp");
  CHECK(u->port == 3128);
  CHECK(u->user.empty());
  CHECK_FALSE(u->has_password);

  // curl assumes http:// and, like curl, 1080 for every scheme but https (CURLOPT_PROXYPORT).
  CHECK(parse_proxy_url("proxy.corp:3128", err)->scheme == "http");
  CHECK(parse_proxy_url("proxy.corp", err)->port == 1080);
  CHECK(parse_proxy_url("http://proxy.corp", err)->port == 1080);
  CHECK(parse_proxy_url("https://proxy.corp", err)->port == 443);
  for (const char* s : {"socks4", "socks4a", "socks5", "socks5h"}) {
    CAPTURE(s);
    auto p = parse_proxy_url(std::string(s) + "://proxy.corp", err);
    REQUIRE(p);
    CHECK(p->scheme == s);
    CHECK(p->port == 1080);
  }
  CHECK(parse_proxy_url("HTTPS://Proxy.Corp:8443", err)->scheme == "https");
  CHECK(parse_proxy_url("http://proxy.corp:3128/", err)->port == 3128);  // a lone "/" is fine
  CHECK(parse_proxy_url("http://10.0.0.1:3128", err)->host == "10.0.0.1");

  auto v6 = parse_proxy_url("socks5h://[::1]:1080", err);
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 1080);
  auto v6_default = parse_proxy_url("[2001:db8::1]", err);
  REQUIRE(v6_default);
  CHECK(v6_default->host == "2001:db8::1");
  CHECK(v6_default->scheme == "http");
  CHECK(v6_default->port == 1080);

  auto auth = parse_proxy_url("http://alice:s3cret@proxy.corp:3128/", err);
  REQUIRE(auth);
  CHECK(auth->user == "alice");
  CHECK(auth->has_password);
  CHECK(auth->host == "proxy.corp");
  auto user_only = parse_proxy_url("alice@proxy.corp:3128", err);
  REQUIRE(user_only);
  CHECK(user_only->user == "alice");
  CHECK_FALSE(user_only->has_password);
  // userinfo is percent-decoded, as curl does; invalid encoding is kept as typed.
  auto encoded = parse_proxy_url("socks5h://al%69ce:p%40ss%3Aw0rd@proxy.corp:1080", err);
  REQUIRE(encoded);
  CHECK(encoded->user == "alice");
  CHECK(encoded->password == "p@ss:w0rd");
  auto raw = parse_proxy_url("http://bob:50%@proxy.corp:3128", err);
  REQUIRE(raw);
  CHECK(raw->password == "50%");
}

TEST_CASE("proxy URLs: what is rejected, and the message") {
  struct Bad {
    const char* text;
    const char* cause;
  };
  for (Bad b : {Bad{"", "is empty"}, Bad{"ftp://proxy:21", "has scheme 'ftp'"}, Bad{"http://", "has no host"},
                Bad{"http://:3128", "has no host"}, Bad{"http://user:pw@", "has no host"},
                Bad{"http://proxy:0", "has port '0'"}, Bad{"http://proxy:99999", "has port '99999'"},
                Bad{"http://proxy:abc", "has port 'abc'"}, Bad{"http://proxy:", "has ':' but no port"},
                Bad{"http://proxy:3128/path", "has a path"}, Bad{"http://proxy:3128?x=1", "has a path"},
                Bad{"http://proxy#frag", "has a path"}, Bad{"proxy 3128", "blank"},
                Bad{" http://proxy:3128", "blank"}, Bad{"http://proxy:3128\n", "control character"},
                Bad{"http://2001:db8::1:3128", "without brackets"}, Bad{"http://[2001:db8::1", "unclosed"},
                Bad{"http://[10.0.0.1]:80", "not an IPv6 address"}, Bad{"http://[::1]x", "after ']'"},
                Bad{"http://pro!xy:3128", "invalid host name 'pro!xy'"}}) {
    CAPTURE(b.text);
    std::string err;
    CHECK_FALSE(parse_proxy_url(b.text, err));
    CHECK(has(err, b.cause));
    CHECK(has(err, "is not a usable proxy URL"));
    CHECK(has(err, "(expected [scheme://][user:pass@]host[:port], scheme http, https, socks4, socks4a, socks5 or "
                   "socks5h)"));
  }
  std::string err;
  CHECK_FALSE(parse_proxy_url("http://proxy:99999", err));
  CHECK(err.rfind("'http://proxy:99999' is not a usable proxy URL: it has port '99999'", 0) == 0);
}

TEST_CASE("proxy URLs: passwords never appear in messages or raw_value") {
  std::string err;
  CHECK_FALSE(parse_proxy_url("http://alice:s3cret@proxy:99999", err));
  CHECK(has(err, "'http://alice:***@proxy:99999'"));
  CHECK_FALSE(has(err, "s3cret"));

  // An unencoded '/' or '@' in the password: the whole of it is still masked.
  CHECK_FALSE(parse_proxy_url("http://alice:pa/ss@word@proxy:3128", err));
  CHECK(has(err, "'http://alice:***@proxy:3128'"));
  CHECK_FALSE(has(err, "pa/ss"));
  CHECK_FALSE(has(err, "word"));

  auto d = env("https", "example.com", {{"https_proxy", "http://alice:s3cret@proxy.corp:3128"}});
  REQUIRE(d.proxy);
  CHECK(d.raw_value == "http://alice:***@proxy.corp:3128");
  CHECK(d.proxy->user == "alice");
  CHECK(d.proxy->has_password);
  CHECK(env("https", "example.com", {{"https_proxy", "alice:s3cret@proxy.corp:3128"}}).raw_value ==
        "alice:***@proxy.corp:3128");
  CHECK(env("https", "example.com", {{"https_proxy", "http://alice@proxy.corp:3128"}}).raw_value ==
        "http://alice@proxy.corp:3128");

  auto o = decide_proxy("https", "example.com", 443, {}, std::string("http://bob:hunter2@p:8080"));
  CHECK(o.raw_value == "http://bob:***@p:8080");
}

TEST_CASE("curl: which variable supplies the proxy for https") {
  CHECK(env("https", "example.com", {}).reason == "no proxy variable is set (https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY)");
  CHECK_FALSE(env("https", "example.com", {}).proxy);

  ProxyEnv all = {{"https_proxy", "http://lower:1"}, {"HTTPS_PROXY", "http://upper:2"}, {"all_proxy", "http://all:3"},
                  {"ALL_PROXY", "http://ALL:4"}};
  auto d = env("https", "example.com", all);
  CHECK(d.variable == "https_proxy");
  CHECK(proxy_host(d) == "lower");
  CHECK(d.reason == "https_proxy is set and neither no_proxy nor NO_PROXY is set");

  all.erase("https_proxy");
  CHECK(env("https", "example.com", all).variable == "HTTPS_PROXY");
  all.erase("HTTPS_PROXY");
  CHECK(env("https", "example.com", all).variable == "all_proxy");
  all.erase("all_proxy");
  CHECK(env("https", "example.com", all).variable == "ALL_PROXY");
  CHECK(proxy_host(env("https", "example.com", all)) == "ALL");

  // Empty counts as unset (curl_getenv and Go's getEnvAny agree).
  auto empty = env("https", "example.com", {{"https_proxy", ""}, {"HTTPS_PROXY", "http://upper:2"}});
  CHECK(empty.variable == "HTTPS_PROXY");

  // The target scheme is case-insensitive; tls:// targets follow the https rules.
  CHECK(env("HTTPS", "example.com", {{"https_proxy", "p:1"}}).variable == "https_proxy");
  auto tls = env("tls", "example.com", {{"https_proxy", "p:1"}, {"http_proxy", "q:2"}});
  CHECK(tls.variable == "https_proxy");
  CHECK(proxy_host(tls) == "p");
}

TEST_CASE("curl: http targets read only lower-case http_proxy (httpoxy)") {
  auto d = env("http", "example.com", {{"http_proxy", "http://lower:3128"}, {"HTTP_PROXY", "http://upper:3128"}}, 80);
  CHECK(d.variable == "http_proxy");
  CHECK(proxy_host(d) == "lower");

  auto upper_only = env("http", "example.com", {{"HTTP_PROXY", "http://upper:3128"}}, 80);
  CHECK_FALSE(upper_only.proxy);
  CHECK(upper_only.variable.empty());
  CHECK(has(upper_only.reason, "HTTP_PROXY is ignored (httpoxy)"));

  auto upper_and_all = env("http", "example.com", {{"HTTP_PROXY", "http://upper:3128"}, {"ALL_PROXY", "all:1"}}, 80);
  CHECK(upper_and_all.variable == "ALL_PROXY");
  CHECK(proxy_host(upper_and_all) == "all");

  CHECK(env("http", "example.com", {{"https_proxy", "p:1"}}, 80).reason ==
        "no proxy variable is set (http_proxy, all_proxy, ALL_PROXY)");
}

TEST_CASE("tcp targets never take a proxy from the environment") {
  auto d = env("tcp", "example.com",
               {{"https_proxy", "p:1"}, {"http_proxy", "p:2"}, {"all_proxy", "p:3"}, {"ALL_PROXY", "p:4"}}, 22);
  CHECK_FALSE(d.proxy);
  CHECK(d.variable.empty());
  CHECK(has(d.reason, "tcp targets never take a proxy from the environment"));
  CHECK(has(d.reason, "--proxy"));
  CHECK_FALSE(d.go_differs);
  // ...but --proxy applies to them.
  CHECK(proxy_host(decide_proxy("tcp", "example.com", 22, {}, std::string("socks5h://s:1080"))) == "s");
}

TEST_CASE("--proxy overrides the environment") {
  ProxyEnv e = {{"https_proxy", "http://envproxy:3128"}, {"no_proxy", "*"}};
  auto d = decide_proxy("https", "example.com", 443, e, std::string("http://cli:8080"));
  CHECK(proxy_host(d) == "cli");
  CHECK(d.variable == "--proxy");
  CHECK(d.no_proxy_variable.empty());  // no_proxy is not consulted, even "*"
  CHECK(has(d.reason, "no_proxy are not consulted"));
  CHECK_FALSE(d.go_differs);

  auto none = decide_proxy("https", "example.com", 443, e, std::string("none"));
  CHECK_FALSE(none.proxy);
  CHECK(has(none.reason, "--proxy none"));
  CHECK_FALSE(none.error);
  CHECK_FALSE(none.go_differs);

  auto bad = decide_proxy("https", "example.com", 443, e, std::string("http://cli:0"));
  CHECK_FALSE(bad.proxy);
  REQUIRE(bad.error);
  CHECK(bad.error->rfind("--proxy: 'http://cli:0' is not a usable proxy URL", 0) == 0);
}

TEST_CASE("an unusable proxy variable is an error naming the variable") {
  auto d = env("https", "example.com", {{"https_proxy", "http://alice:pw@proxy:99999"}});
  CHECK_FALSE(d.proxy);
  CHECK(d.variable == "https_proxy");
  CHECK(d.raw_value == "http://alice:***@proxy:99999");
  REQUIRE(d.error);
  CHECK(d.error->rfind("https_proxy: 'http://alice:***@proxy:99999' is not a usable proxy URL", 0) == 0);
  CHECK_FALSE(has(*d.error, "pw@"));
  CHECK(d.reason == "https_proxy is set but is not a usable proxy URL");
  CHECK_FALSE(d.go_differs);

  // curl reads no_proxy first: a bypassed host never looks at the bad value.
  auto bypassed = env("https", "example.com", {{"https_proxy", "ftp://x"}, {"no_proxy", "example.com"}});
  CHECK_FALSE(bypassed.error);
  CHECK_FALSE(bypassed.proxy);
}

TEST_CASE("curl no_proxy: names") {
  ProxyEnv e = {{"https_proxy", "http://proxy:3128"}, {"no_proxy", "localhost,.corp"}};
  auto miss = env("https", "example.com", e);
  CHECK(proxy_host(miss) == "proxy");
  CHECK(miss.no_proxy_variable == "no_proxy");
  CHECK(miss.no_proxy_token.empty());
  CHECK(miss.reason == "https_proxy is set and no_proxy (\"localhost,.corp\") does not match example.com");

  auto hit = env("https", "db.corp", e);
  CHECK_FALSE(hit.proxy);
  CHECK(hit.variable == "https_proxy");  // what was bypassed
  CHECK(hit.no_proxy_token == ".corp");
  CHECK(hit.reason == "no_proxy token '.corp' matches db.corp, so https_proxy is not used");

  auto matches = [](const std::string& list, const std::string& host) {
    return !env("https", host, {{"https_proxy", "p:1"}, {"no_proxy", list}}).proxy;
  };
  CHECK(matches("example.com", "example.com"));
  CHECK(matches("example.com", "a.example.com"));
  CHECK(matches("example.com", "a.b.example.com"));
  CHECK_FALSE(matches("example.com", "badexample.com"));
  CHECK_FALSE(matches("a.example.com", "example.com"));
  CHECK(matches("Example.COM", "WWW.example.com"));        // case-insensitive
  CHECK(matches("example.com.", "a.example.com"));         // trailing dot on the token
  CHECK(matches("example.com", "a.example.com."));         // trailing dot on the host
  CHECK(matches(".example.com", "example.com"));           // leading dot ignored
  CHECK(matches(".example.com.", "example.com"));
  CHECK_FALSE(matches(".", "example.com"));
  CHECK(matches("a.org, example.com", "example.com"));      // blanks around commas
  CHECK(matches(",,a.org,,example.com,", "example.com"));  // repeated commas
  CHECK(matches("a.org\texample.com", "example.com"));     // blanks separate too
  CHECK_FALSE(matches("example.com:443", "example.com"));  // a token with a port never matches in curl
  CHECK_FALSE(matches("*.example.com", "a.example.com"));  // '*' is not a wildcard inside a token
  CHECK_FALSE(matches("10.0.0.0/8", "10.example"));        // IP tokens never match names
}

TEST_CASE("curl no_proxy: '*' only as the whole value") {
  auto all = env("https", "example.com", {{"https_proxy", "p:1"}, {"no_proxy", "*"}});
  CHECK_FALSE(all.proxy);
  CHECK(all.no_proxy_token == "*");
  CHECK(all.reason == "no_proxy is '*', which matches every host, so https_proxy is not used");

  auto mixed = env("https", "example.com", {{"https_proxy", "p:1"}, {"no_proxy", "localhost,*"}});
  CHECK(proxy_host(mixed) == "p");
  // Go treats '*' anywhere in the list as "everything".
  CHECK(has(mixed.go_differs, "Go's net/http would connect directly"));
  CHECK(has(mixed.go_differs, "'*' only as the whole value"));
}

TEST_CASE("curl no_proxy: blank-separated names work but are flagged") {
  auto d = env("https", "db.corp", {{"https_proxy", "p:1"}, {"no_proxy", "localhost .corp"}});
  CHECK_FALSE(d.proxy);
  CHECK(d.no_proxy_token == ".corp");
  CHECK(has(d.reason, "curl 8.9 and later stop reading no_proxy at a blank"));
  // Go splits on commas only: "localhost .corp" is one token that matches nothing.
  CHECK(has(d.go_differs, "Go's net/http would use https_proxy (p:1)"));
  CHECK(has(d.go_differs, "commas only"));

  auto first = env("https", "localhost", {{"https_proxy", "p:1"}, {"no_proxy", "localhost .corp"}});
  CHECK_FALSE(has(first.reason, "8.9"));
}

TEST_CASE("curl no_proxy: no_proxy before NO_PROXY") {
  ProxyEnv e = {{"https_proxy", "p:1"}, {"no_proxy", "other.org"}, {"NO_PROXY", ".corp"}};
  auto d = env("https", "db.corp", e);
  CHECK(proxy_host(d) == "p");
  CHECK(d.no_proxy_variable == "no_proxy");
  // Go reads NO_PROXY first, and it matches.
  CHECK(has(d.go_differs, "connect directly: its NO_PROXY token '.corp' matches db.corp"));
  CHECK(has(d.go_differs, "curl reads no_proxy first"));

  auto upper = env("https", "db.corp", {{"https_proxy", "p:1"}, {"NO_PROXY", ".corp"}});
  CHECK_FALSE(upper.proxy);
  CHECK(upper.no_proxy_variable == "NO_PROXY");
  CHECK(upper.reason == "NO_PROXY token '.corp' matches db.corp, so https_proxy is not used");
  CHECK_FALSE(upper.go_differs);
}

TEST_CASE("curl no_proxy: IP literals and CIDR") {
  auto bypass = [](const std::string& list, const std::string& host) {
    return !env("https", host, {{"https_proxy", "p:1"}, {"no_proxy", list}}).proxy;
  };
  CHECK(bypass("10.0.0.0/8", "10.1.2.3"));
  CHECK_FALSE(bypass("10.0.0.0/8", "11.0.0.1"));
  CHECK(bypass("192.0.2.7", "192.0.2.7"));
  CHECK_FALSE(bypass("192.0.2.7", "192.0.2.8"));
  CHECK(bypass("example.com, 192.0.2.0/24", "192.0.2.99"));
  CHECK_FALSE(bypass("example.com", "93.184.216.34"));
  CHECK(bypass("2001:db8::/32", "2001:db8::5"));
  CHECK(bypass("2001:db8::/32", "[2001:db8::5]"));  // brackets tolerated
  CHECK_FALSE(bypass("2001:db8::/32", "2001:db9::5"));
  CHECK(bypass("::1/128", "::1"));
  CHECK(bypass("2001:db8::5", "2001:db8::5"));
  CHECK_FALSE(bypass("10.0.0.0/8", "2001:db8::5"));   // families never mix
  CHECK_FALSE(bypass("192.0.2.7:443", "192.0.2.7"));  // no port matching in curl

  // curl reads "/0" as "no prefix given": only the address itself. Go's /0 matches every address.
  auto zero = env("https", "10.1.2.3", {{"https_proxy", "p:1"}, {"no_proxy", "10.0.0.0/0"}});
  CHECK(proxy_host(zero) == "p");
  CHECK(has(zero.go_differs, "curl reads /0 as one address"));
}

TEST_CASE("Go: '*.corp' bypasses subdomains in Go, never in curl") {
  auto d = env("https", "sub.corp", {{"https_proxy", "p:1"}, {"no_proxy", "*.corp"}});
  CHECK(proxy_host(d) == "p");
  CHECK(has(d.go_differs, "Go's net/http would connect directly: its no_proxy token '*.corp' matches sub.corp"));
  CHECK(has(d.go_differs, "literally"));
  // ...and not the domain itself in Go either: both proxy, no difference.
  CHECK_FALSE(env("https", "corp", {{"https_proxy", "p:1"}, {"no_proxy", "*.corp"}}).go_differs);
}

TEST_CASE("Go: '.corp' is subdomains only in Go, the domain too in curl") {
  auto d = env("https", "corp", {{"https_proxy", "p:1"}, {"no_proxy", ".corp"}});
  CHECK_FALSE(d.proxy);
  CHECK(has(d.go_differs, "Go's net/http would use https_proxy (p:1)"));
  CHECK(has(d.go_differs, "curl's no_proxy token '.corp' matches corp but Go's no_proxy rules do not"));
  CHECK(has(d.go_differs, "leading '.' means subdomains only"));
  // Subdomains: both bypass.
  CHECK_FALSE(env("https", "db.corp", {{"https_proxy", "p:1"}, {"no_proxy", ".corp"}}).go_differs);
  // A trailing dot is ignored by curl only.
  auto dot = env("https", "a.example.com", {{"https_proxy", "p:1"}, {"no_proxy", "example.com."}});
  CHECK_FALSE(dot.proxy);
  CHECK(has(dot.go_differs, "trailing '.'"));
}

TEST_CASE("Go: tokens with a port match in Go when the port matches") {
  ProxyEnv e = {{"https_proxy", "p:1"}, {"no_proxy", "db.corp:8443"}};
  auto same_port = env("https", "db.corp", e, 8443);
  CHECK(proxy_host(same_port) == "p");
  CHECK(has(same_port.go_differs, "token 'db.corp:8443' matches db.corp"));
  CHECK(has(same_port.go_differs, "curl never matches a token with a port"));
  CHECK_FALSE(env("https", "db.corp", e, 443).go_differs);

  auto ip_port = env("https", "2001:db8::5", {{"https_proxy", "p:1"}, {"no_proxy", "[2001:db8::5]:443"}}, 443);
  CHECK(proxy_host(ip_port) == "p");
  CHECK(has(ip_port.go_differs, "connect directly"));
}

TEST_CASE("Go: ALL_PROXY only — curl proxies, Go connects directly") {
  auto d = env("https", "example.com", {{"ALL_PROXY", "socks5h://s:1080"}});
  CHECK(d.variable == "ALL_PROXY");
  REQUIRE(d.proxy);
  CHECK(d.proxy->scheme == "socks5h");
  CHECK(has(d.go_differs, "Go's net/http would connect directly"));
  CHECK(has(d.go_differs, "never reads all_proxy or ALL_PROXY"));
}

TEST_CASE("Go: upper-case HTTP_PROXY for an http target — curl direct, Go proxies") {
  auto d = env("http", "example.com", {{"HTTP_PROXY", "http://upper:3128"}}, 80);
  CHECK_FALSE(d.proxy);
  CHECK(d.go_differs ==
        "Go's net/http would use HTTP_PROXY (http://upper:3128): it also reads upper-case HTTP_PROXY, which curl "
        "ignores for http:// (httpoxy)");

  // curl falls through to all_proxy; Go takes HTTP_PROXY.
  auto via_all = env("http", "example.com", {{"HTTP_PROXY", "http://upper:3128"}, {"all_proxy", "http://all:3128"}}, 80);
  CHECK(proxy_host(via_all) == "all");
  CHECK(has(via_all.go_differs, "would use HTTP_PROXY (http://upper:3128) instead of all_proxy"));
  CHECK(has(via_all.go_differs, "never reads all_proxy"));

  // Both set, different: Go reads upper case first.
  auto both = env("https", "example.com", {{"https_proxy", "http://lower:1"}, {"HTTPS_PROXY", "http://upper:2"}});
  CHECK(proxy_host(both) == "lower");
  CHECK(has(both.go_differs, "would use HTTPS_PROXY (http://upper:2) instead of https_proxy: it reads HTTPS_PROXY "
                             "before https_proxy"));
  CHECK_FALSE(env("https", "example.com", {{"https_proxy", "http://same:1"}, {"HTTPS_PROXY", "http://same:1"}}).go_differs);
}

TEST_CASE("Go: localhost and loopback are never proxied in Go") {
  ProxyEnv e = {{"https_proxy", "http://proxy:3128"}};
  auto local = env("https", "localhost", e);
  CHECK(proxy_host(local) == "proxy");  // curl has no such exception
  CHECK(has(local.go_differs, "connect directly: it never proxies localhost"));
  CHECK(has(env("https", "127.0.0.1", e).go_differs, "never proxies loopback addresses"));
  CHECK(has(env("https", "127.8.9.10", e).go_differs, "loopback"));
  CHECK(has(env("https", "::1", e).go_differs, "loopback"));
  CHECK_FALSE(env("https", "10.0.0.1", e).go_differs);

  // With no_proxy covering it, both connect directly.
  auto both = env("https", "localhost", {{"https_proxy", "p:1"}, {"no_proxy", "localhost,127.0.0.0/8"}});
  CHECK_FALSE(both.proxy);
  CHECK_FALSE(both.go_differs);
  CHECK_FALSE(env("https", "127.0.0.1", {{"https_proxy", "p:1"}, {"no_proxy", "localhost,127.0.0.0/8"}}).go_differs);
}

TEST_CASE("Go: REQUEST_METHOD (CGI) makes Go refuse HTTP_PROXY for http targets") {
  ProxyEnv e = {{"http_proxy", "http://proxy:3128"}, {"https_proxy", "http://proxy:3128"}, {"REQUEST_METHOD", "GET"}};
  auto d = env("http", "example.com", e, 80);
  CHECK(proxy_host(d) == "proxy");
  CHECK(has(d.go_differs, "Go's net/http would fail the request: REQUEST_METHOD is set"));
  CHECK_FALSE(env("https", "example.com", e).go_differs);
}

TEST_CASE("Go: a proxy URL without a port means port 80 to Go, 1080 to curl") {
  auto d = env("http", "example.com", {{"http_proxy", "proxy.corp"}}, 80);
  REQUIRE(d.proxy);
  CHECK(d.proxy->port == 1080);
  CHECK(has(d.go_differs, "on port 80"));
  CHECK(has(d.go_differs, "curl's is 1080"));
  CHECK_FALSE(env("https", "example.com", {{"https_proxy", "https://proxy.corp"}}).go_differs);
  CHECK_FALSE(env("https", "example.com", {{"https_proxy", "socks5://proxy.corp"}}).go_differs);
}

TEST_CASE("Go: no SOCKS4") {
  auto d = env("https", "example.com", {{"https_proxy", "socks4a://s:1080"}});
  REQUIRE(d.proxy);
  CHECK(d.proxy->scheme == "socks4a");
  CHECK(has(d.go_differs, "no SOCKS4 support"));
}

TEST_CASE("IPv6 proxies and targets") {
  auto d = env("https", "2001:db8::10", {{"https_proxy", "http://[2001:db8::1]:3128"}, {"no_proxy", "10.0.0.0/8"}});
  REQUIRE(d.proxy);
  CHECK(d.proxy->host == "2001:db8::1");
  CHECK(d.proxy->port == 3128);
  CHECK(d.reason == "https_proxy is set and no_proxy (\"10.0.0.0/8\") does not match 2001:db8::10");
  CHECK_FALSE(d.go_differs);

  auto bypass = env("https", "fd00::abcd", {{"https_proxy", "http://[2001:db8::1]:3128"}, {"no_proxy", "fd00::/8"}});
  CHECK_FALSE(bypass.proxy);
  CHECK(bypass.no_proxy_token == "fd00::/8");
  CHECK_FALSE(bypass.go_differs);
}

TEST_CASE("agreement leaves go_differs empty") {
  CHECK_FALSE(env("https", "example.com", {}).go_differs);
  CHECK_FALSE(env("https", "example.com", {{"https_proxy", "http://proxy:3128"}}).go_differs);
  CHECK_FALSE(env("https", "a.example.com", {{"https_proxy", "p:1"}, {"no_proxy", "example.com"}}).go_differs);
  CHECK_FALSE(env("https", "example.com", {{"https_proxy", "p:1"}, {"no_proxy", "*"}}).go_differs);
  CHECK_FALSE(env("http", "example.com", {{"http_proxy", "http://p:3128"}}, 80).go_differs);
}

TEST_CASE("proxy_env_from_process reads the nine variables") {
  const char* names[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                         "ALL_PROXY",  "no_proxy",   "NO_PROXY",    "REQUEST_METHOD"};
  std::map<std::string, std::optional<std::string>> saved;
  for (const char* n : names) {
    const char* v = std::getenv(n);
    saved[n] = v ? std::optional<std::string>(v) : std::nullopt;
    unsetenv(n);
  }
  setenv("https_proxy", "http://proxy:3128", 1);
  setenv("no_proxy", "localhost", 1);
  setenv("all_proxy", "", 1);
  setenv("UNRELATED_PROXY_TEST", "x", 1);

  ProxyEnv e = proxy_env_from_process();
  CHECK(e.size() == 3);
  CHECK(e["https_proxy"] == "http://proxy:3128");
  CHECK(e["no_proxy"] == "localhost");
  CHECK(e.count("all_proxy") == 1);  // present but empty: decide_proxy treats it as unset
  CHECK(e.count("UNRELATED_PROXY_TEST") == 0);
  CHECK(proxy_host(env("https", "example.com", e)) == "proxy");

  unsetenv("UNRELATED_PROXY_TEST");
  for (auto& [n, v] : saved) {
    if (v)
      setenv(n.c_str(), v->c_str(), 1);
    else
      unsetenv(n.c_str());
  }
}
