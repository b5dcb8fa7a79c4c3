// What `edge trace` probes: a URL (http/https, parsed with Boost.URL), tls://HOST:PORT (TLS
// without HTTP) or HOST:PORT (plain TCP).
#pragma once
#include <string>
#include <string_view>

#include "core/base/parsed.h"

namespace edge::trace {

struct Target {
  std::string text;    // as given
  std::string scheme;  // "http", "https", "tls", "tcp"
  std::string host;    // name or address literal, without brackets
  uint16_t port = 0;
  std::string path = "/";  // path and query, for the HTTP request
  bool host_is_literal = false;
  bool explicit_port = false;

  bool wants_tls() const { return scheme == "https" || scheme == "tls"; }
  bool wants_http() const { return scheme == "http" || scheme == "https"; }
  // "host:port" with brackets for IPv6, for CONNECT and Host headers.
  std::string authority() const;
};

Parsed<Target> parse_target(std::string_view text);

}  // namespace edge::trace
