// Target parsing: URLs through Boost.URL; HOST:PORT forms through edge's endpoint parser.
#include "core/trace/target.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "core/net/addr.h"

namespace edge::trace {

std::string Target::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if (wants_http() && !explicit_port) return h;  // Host: example.com, not example.com:443
  return h + ":" + std::to_string(port);
}

Parsed<Target> parse_target(std::string_view text) {
  constexpr const char* accepted =
      "is not a target (expected a URL such as https://example.com/path, tls://HOST:PORT, or HOST:PORT)";
  Target t;
  t.text = std::string(text);
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || text.substr(0, sep) == "tls") {
    // HOST:PORT or tls://HOST:PORT: the port is required, there is no default to guess.
    std::string_view rest = sep == std::string_view::npos ? text : text.substr(sep + 3);
    auto ep = Endpoint::parse(rest);
    if (!ep) return parse_error<Target>(std::string(accepted) + ": " + ep.error());
    if (ep->host().empty()) return parse_error<Target>(std::string(accepted) + ": the host is missing");
    t.scheme = sep == std::string_view::npos ? "tcp" : "tls";
    t.host = ep->host();
    t.port = ep->port();
    t.explicit_port = true;
    t.host_is_literal = ep->host_is_literal();
    return t;
  }
  auto u = boost::urls::parse_uri(text);
  if (!u) return parse_error<Target>(std::string(accepted));
  t.scheme = std::string(u->scheme());
  for (auto& c : t.scheme) c = char(std::tolower((unsigned char)c));
  if (t.scheme != "http" && t.scheme != "https")
    return parse_error<Target>("has scheme '" + t.scheme + "' (expected http, https or tls)");
  if (u->host_type() == boost::urls::host_type::ipv6) {
    t.host = u->host_ipv6_address().to_string();
  } else if (u->host_type() == boost::urls::host_type::ipv4 || u->host_type() == boost::urls::host_type::name) {
    t.host = u->host();
  } else {
    return parse_error<Target>(std::string(accepted) + ": the host is missing");
  }
  if (t.host.empty()) return parse_error<Target>(std::string(accepted) + ": the host is missing");
  t.host_is_literal = IpAddr::parse(t.host).has_value();
  if (u->has_port()) {
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
  return t;
}

}  // namespace edge::trace
