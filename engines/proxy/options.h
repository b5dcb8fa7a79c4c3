// What `edge proxy` was asked to do; cmd/proxy.cpp fills it from flags.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/base/duration.h"
#include "core/net/addr.h"
#include "core/policy/egress.h"

namespace edge::proxy {

enum class LogFormat { squid, json };

struct Options {
  Endpoint listen;                 // default 127.0.0.1:3128
  bool socks = true;               // SOCKS5 on the same port (told apart by the first byte)
  bool open = false;               // --open: a non-loopback listener without --allow-src/--auth
  policy::EgressFlags egress;      // --allow-*/--deny-*/--*-ports, as given
  std::string auth;                // --auth user:pass
  std::string auth_file;           // --auth-file: htpasswd (bcrypt, SHA-crypt, {SHA})
  unsigned threads = 0;            // 0: one per core
  Millis connect_timeout{10000};
  Millis header_timeout{10000};    // a request head, and a SOCKS handshake
  Millis response_timeout{60000};  // the origin's first response byte
  Millis idle_timeout{300000};     // silence while a body streams, or in a tunnel
  Millis keepalive_timeout{60000}; // an idle client connection between requests
  unsigned keepalive = 256;        // idle origin connections kept per destination and thread
  unsigned max_conns = 10000;
  Millis drain{10000};
  std::string parent;              // --parent URL: http://, socks5://, socks5h:// (credentials in it)
  std::vector<std::string> no_parent_for;  // --no-parent-for: no_proxy lists
  std::string access_log;          // "", "-" or a file
  LogFormat log_format = LogFormat::squid;
  std::optional<Endpoint> metrics;  // --metrics: where to serve Prometheus text
};

int run(const Options& o);

}  // namespace edge::proxy
