// `edge rproxy --listen [ADDR:]PORT --to HOST:PORT [--to ...]`: flags into rproxy::Options,
// every value validated before a socket is opened.
#include <CLI/CLI.hpp>

#include <algorithm>

#include "cmd/commands.h"
#include "cmd/flags.h"
#include "core/base/errors.h"
#include "core/base/numbers.h"
#include "core/http/syntax.h"
#include "engines/rproxy/options.h"

namespace edge::cmd {
namespace {

// 'Name: value' pairs, held to the byte rules a client's headers are held to: the name a
// token, the value without control bytes (CR, LF, NUL, ...), framing headers not settable.
std::vector<std::pair<std::string, std::string>> header_flags(const std::string& flag, const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& v : values) {
    const auto colon = v.find(':');
    const std::string name = v.substr(0, colon);
    if (colon == std::string::npos || !http::is_token(name)) throw usage_error(flag, v, "is not a header (expected 'Name: value', the name a token)");
    std::string value = v.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    if (!http::is_field_value(value)) throw usage_error(flag, v, "has a control character in its value (CR, LF, NUL and the like are not allowed)");
    std::string lower = name;
    for (auto& c : lower) c = char(std::tolower((unsigned char)c));
    if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection")
      throw usage_error(flag, v, "sets " + name + ", which edge keeps consistent itself (not settable)");
    out.emplace_back(name, value);
  }
  return out;
}

}  // namespace

void add_rproxy(CLI::App& app, Runner& runner) {
  struct Flags {
    std::string listen, mode = "http", lb = "round-robin", threads = "0", connect_timeout = "3s", header_timeout = "10s",
                backend_timeout = "30s", idle_timeout = "60s", keepalive_timeout = "60s", keepalive = "1024", max_conns = "10000",
                drain = "10s", access_log, health, health_interval = "5s",
                tls_cert, tls_key, upstream_ca, log_format = "combined", metrics;
    bool tls_auto = false, upstream_tls = false, upstream_insecure = false;
    std::vector<std::string> to, trust, headers, response_headers;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* r = app.add_subcommand("rproxy", "A reverse proxy: HTTP/1.1 or TCP to a pool of backends");
  r->footer(
      "Examples:\n"
      "  edge rproxy --listen 8080 --to 127.0.0.1:9000 --to 127.0.0.1:9001\n"
      "  edge rproxy --listen 127.0.0.1:8443 --mode tcp --to db1:5432 --to db2:5432 --lb least-conn\n"
      "  edge rproxy --listen 80 --to app:3000 --access-log - --trust-proxy 10.0.0.0/8\n"
      "  edge rproxy --listen 8443 --tls-auto --to 127.0.0.1:9000\n"
      "  edge rproxy --listen 443 --tls-cert site.pem --tls-key site.key --to api.internal:443 --upstream-tls\n");
  r->add_option("--listen", f->listen, "[ADDR:]PORT to accept clients on")->required()->type_name("[ADDR:]PORT");
  r->add_option("--to", f->to, "A backend HOST:PORT (repeat for a pool)")->required()->type_name("HOST:PORT");
  r->add_option("--mode", f->mode, "http (default) or tcp (bytes relayed as they are)")->type_name("MODE");
  r->add_option("--lb", f->lb, "Balancing: round-robin (default), least-conn, random or hash-src")->type_name("POLICY");
  r->add_option("--threads", f->threads, "Worker threads, one listener each (default: one per core)")->type_name("N");
  r->add_option("--connect-timeout", f->connect_timeout, "Connecting to a backend (default 3s)")->type_name("DUR");
  r->add_option("--header-timeout", f->header_timeout, "The client's request head (default 10s)")->type_name("DUR");
  r->add_option("--backend-timeout", f->backend_timeout, "The backend's first response byte (default 30s)")->type_name("DUR");
  r->add_option("--idle-timeout", f->idle_timeout, "Silence while a body or tunnel streams (default 60s)")->type_name("DUR");
  r->add_option("--keepalive-timeout", f->keepalive_timeout, "An idle client connection between requests (default 60s)")->type_name("DUR");
  r->add_option("--keepalive", f->keepalive, "Idle connections kept per backend and thread (default 1024)")->type_name("N");
  r->add_option("--max-conns", f->max_conns, "Client connections at most; more are closed at once (default 10000)")->type_name("N");
  r->add_option("--drain", f->drain, "On SIGTERM/SIGINT, time to let in-flight requests finish (default 10s)")->type_name("DUR");
  r->add_option("--trust-proxy", f->trust, "Keep X-Forwarded-* from peers in this CIDR (repeatable)")->type_name("CIDR");
  r->add_option("--access-log", f->access_log, "One line per request to FILE, or - for stdout (SIGHUP reopens it)")->type_name("FILE");
  r->add_option("--log-format", f->log_format, "Access log lines: combined (default) or json (one object per line)")->type_name("FORMAT");
  r->add_option("--metrics", f->metrics, "Serve Prometheus metrics at http://[ADDR:]PORT/metrics (a bare PORT: 127.0.0.1 only)")->type_name("[ADDR:]PORT");
  r->add_option("--health", f->health, "Check each backend with GET PATH (2xx/3xx is up; in tcp mode, a connect)")->type_name("PATH");
  r->add_option("--health-interval", f->health_interval, "How often to check, and to resolve backend names again (default 5s)")->type_name("DUR");
  r->add_option("-H,--header", f->headers, "Set this header on every request to the backends (repeatable)")->type_name("'NAME: VALUE'");
  r->add_option("--response-header", f->response_headers, "Set this header on every response to clients (repeatable)")->type_name("'NAME: VALUE'");
  r->add_option("--tls-cert", f->tls_cert, "Serve clients over TLS with this PEM certificate chain (needs --tls-key)")->type_name("FILE");
  r->add_option("--tls-key", f->tls_key, "The PEM private key for --tls-cert")->type_name("FILE");
  r->add_flag("--tls-auto", f->tls_auto, "Serve clients over TLS with a fresh self-signed certificate (fingerprint printed at start)");
  r->add_flag("--upstream-tls", f->upstream_tls, "Speak TLS to the backends (SNI = backend host; certificate verified)");
  r->add_option("--upstream-ca", f->upstream_ca, "Trust these PEM CA certificates for backends instead of the system store")->type_name("FILE");
  r->add_flag("--upstream-insecure", f->upstream_insecure, "Do not verify backend certificates (testing only)");
  r->callback([f, &runner] {
    runner = [f] {
      rproxy::Options o;
      auto l = Endpoint::parse(f->listen);
      if (!l) throw usage_error("--listen", f->listen, l.error());
      o.listen = *l;
      for (auto& t : f->to) {
        auto e = Endpoint::parse(t);
        if (!e) throw usage_error("--to", t, e.error());
        if (e->host().empty()) throw usage_error("--to", t, "needs a host (HOST:PORT)");
        o.backends.push_back(*e);
      }
      if (f->mode == "http") o.mode = rproxy::Mode::http;
      else if (f->mode == "tcp") o.mode = rproxy::Mode::tcp;
      else throw usage_error("--mode", f->mode, "is not a mode (expected http or tcp)");
      if (f->lb == "round-robin") o.balance = rproxy::Balance::round_robin;
      else if (f->lb == "least-conn") o.balance = rproxy::Balance::least_conn;
      else if (f->lb == "random") o.balance = rproxy::Balance::random;
      else if (f->lb == "hash-src") o.balance = rproxy::Balance::hash_src;
      else throw usage_error("--lb", f->lb, "is not a balancing policy (expected round-robin, least-conn, random or hash-src)");
      o.threads = count_flag("--threads", f->threads, 0, 256);
      o.connect_timeout = duration_flag("--connect-timeout", f->connect_timeout);
      o.header_timeout = duration_flag("--header-timeout", f->header_timeout);
      o.backend_timeout = duration_flag("--backend-timeout", f->backend_timeout);
      o.idle_timeout = duration_flag("--idle-timeout", f->idle_timeout);
      o.keepalive_timeout = duration_flag("--keepalive-timeout", f->keepalive_timeout);
      o.drain = duration_flag("--drain", f->drain);
      o.keepalive = count_flag("--keepalive", f->keepalive, 0, 100000);
      o.max_conns = count_flag("--max-conns", f->max_conns, 1, 10000000);
      for (auto& c : f->trust) {
        auto cidr = Cidr::parse(c);
        if (!cidr) throw usage_error("--trust-proxy", c, cidr.error());
        o.trust_proxy.push_back(*cidr);
      }
      o.access_log = f->access_log;
      if (f->log_format == "combined") o.log_format = rproxy::LogFormat::combined;
      else if (f->log_format == "json") o.log_format = rproxy::LogFormat::json;
      else throw usage_error("--log-format", f->log_format, "is not a log format (expected combined or json)");
      if (!f->metrics.empty()) {
        auto m = Endpoint::parse(f->metrics);
        if (!m) throw usage_error("--metrics", f->metrics, m.error());
        o.metrics = *m;
      }
      if (!f->health.empty() && f->health.front() != '/') throw usage_error("--health", f->health, "is not a path (expected e.g. /healthz)");
      o.health_path = f->health;
      o.health_interval = duration_flag("--health-interval", f->health_interval);
      o.request_headers = header_flags("--header", f->headers);
      o.response_headers = header_flags("--response-header", f->response_headers);
      if (f->tls_auto && !f->tls_cert.empty()) throw Fatal(Exit::usage, "--tls-auto: cannot be used with --tls-cert (choose one)");
      if (f->tls_cert.empty() != f->tls_key.empty())
        throw f->tls_cert.empty() ? usage_error("--tls-key", f->tls_key, "needs --tls-cert") : usage_error("--tls-cert", f->tls_cert, "needs --tls-key");
      o.tls_cert = f->tls_cert;
      o.tls_key = f->tls_key;
      o.tls_auto = f->tls_auto;
      if (!f->upstream_tls && (!f->upstream_ca.empty() || f->upstream_insecure))
        throw f->upstream_ca.empty() ? Fatal(Exit::usage, "--upstream-insecure: needs --upstream-tls") : usage_error("--upstream-ca", f->upstream_ca, "needs --upstream-tls");
      if (!f->upstream_ca.empty() && f->upstream_insecure) throw usage_error("--upstream-ca", f->upstream_ca, "cannot be used with --upstream-insecure");
      o.upstream_tls = f->upstream_tls;
      o.upstream_ca = f->upstream_ca;
      o.upstream_insecure = f->upstream_insecure;
      return rproxy::run(o);
    };
  });
}

}  // namespace edge::cmd
