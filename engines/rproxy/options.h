// What `edge rproxy` was asked to do; cmd/rproxy.cpp fills it from flags.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/base/duration.h"
#include "core/net/addr.h"
#include "engines/rproxy/access_log.h"

namespace edge::rproxy {

enum class Mode { http, tcp };
enum class Balance { round_robin, least_conn, random, hash_src };

struct Options {
  Endpoint listen;                 // empty host: every address
  std::vector<Endpoint> backends;  // --to, in order
  Mode mode = Mode::http;
  Balance balance = Balance::round_robin;
  unsigned threads = 0;            // 0: one per core
  Millis connect_timeout{3000};
  Millis header_timeout{10000};    // the client's request head
  Millis backend_timeout{30000};   // the backend's first response byte
  Millis idle_timeout{60000};      // between reads while a body or tunnel streams
  Millis keepalive_timeout{60000}; // an idle client connection between requests
  unsigned keepalive = 32;         // idle connections kept per backend and thread
  unsigned max_conns = 10000;
  unsigned fail_threshold = 3;     // consecutive failures that eject a backend
  Millis eject_for{10000};
  Millis drain{10000};
  std::vector<Cidr> trust_proxy;
  std::string access_log;          // "", "-" or a file
  LogFormat log_format = LogFormat::combined;
  std::optional<Endpoint> metrics;  // --metrics: where to serve Prometheus text
  std::string health_path;         // --health: GET this path (http) or connect (tcp); "" = passive only
  Millis health_interval{5000};    // also how often backend names are resolved again
  std::vector<std::pair<std::string, std::string>> request_headers;   // -H: set on every request
  std::vector<std::pair<std::string, std::string>> response_headers;  // --response-header
  std::string tls_cert, tls_key;   // TLS for clients from PEM files
  bool tls_auto = false;           // TLS for clients with a fresh self-signed certificate
  bool upstream_tls = false;       // backends speak https
  std::string upstream_ca;         // "" = the system trust store
  bool upstream_insecure = false;  // do not verify the backends' certificates
};

int run(const Options& o);

}  // namespace edge::rproxy
