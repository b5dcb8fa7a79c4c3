// `edge proxy [--listen ADDR:PORT] [--allow-* ...]`: flags into proxy::Options, every value
// validated (the egress lists included) before a socket is opened.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "cmd/flags.h"
#include "core/base/errors.h"
#include "engines/proxy/options.h"

namespace edge::cmd {

void add_proxy(CLI::App& app, Runner& runner) {
  struct Flags {
    std::string listen = "127.0.0.1:3128", threads = "0", connect_timeout = "10s", header_timeout = "10s", response_timeout = "60s",
                idle_timeout = "5m", keepalive_timeout = "60s", keepalive = "256", max_conns = "10000", drain = "10s", access_log,
                log_format = "squid", auth, auth_file, parent, metrics;
    bool no_socks = false, open = false;
    std::vector<std::string> allow_domain, deny_domain, allow_dst, deny_dst, allow_src, connect_ports, http_ports, no_parent_for;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* p = app.add_subcommand("proxy", "A forward proxy: HTTP, CONNECT tunnels and SOCKS5 on one port, with egress rules");
  p->footer(
      "By default only this machine's clients may use it, and every public destination is allowed while\n"
      "loopback, private (RFC 1918, ULA), link-local, cloud metadata and unspecified addresses are denied.\n"
      "--allow-domain/--allow-dst switch to an allowlist. A denial names its rule and the flag that allows it.\n"
      "\n"
      "Examples:\n"
      "  edge proxy                                        # 127.0.0.1:3128; curl -x http://127.0.0.1:3128 URL\n"
      "  edge proxy --allow-domain .example.com --allow-dst 10.1.0.0/16\n"
      "  edge proxy --listen 0.0.0.0:3128 --allow-src 10.0.0.0/8 --access-log -\n"
      "  edge proxy --listen 0.0.0.0:1080 --auth alice:s3cret --connect-ports 443,8443\n"
      "  edge proxy --parent http://user:pass@squid.internal:3128 --no-parent-for .corp.example\n"
      "  curl --socks5-hostname 127.0.0.1:3128 https://example.com/\n");
  p->add_option("--listen", f->listen, "[ADDR:]PORT to accept clients on (default 127.0.0.1:3128)")->type_name("[ADDR:]PORT");
  p->add_flag("--no-socks", f->no_socks, "Speak HTTP only (SOCKS5 clients are not recognised)");
  p->add_option("--allow-src", f->allow_src, "Clients in this CIDR may use the proxy besides loopback (repeatable, comma lists)")->type_name("CIDR");
  p->add_option("--auth", f->auth, "Require this user and password (HTTP Basic, SOCKS5 user/pass); any client that has it may use the proxy")
      ->type_name("USER:PASS");
  p->add_option("--auth-file", f->auth_file, "Require a user and password from this htpasswd file (bcrypt, SHA-crypt or {SHA})")->type_name("FILE");
  p->add_flag("--open", f->open, "Allow a non-loopback --listen without --allow-src or --auth (an open proxy, on purpose)");
  p->add_option("--allow-domain", f->allow_domain, "Allowlist: this name, or with a leading dot the domain and its subdomains (repeatable)")
      ->type_name("DOMAIN");
  p->add_option("--allow-dst", f->allow_dst, "Allowlist: destinations in this CIDR; also lifts the default denial of a private range")
      ->type_name("CIDR");
  p->add_option("--deny-domain", f->deny_domain, "Never this name (leading dot: and its subdomains); wins over every allow")->type_name("DOMAIN");
  p->add_option("--deny-dst", f->deny_dst, "Never destinations in this CIDR; wins over every allow")->type_name("CIDR");
  p->add_option("--connect-ports", f->connect_ports, "Ports tunnels (CONNECT, SOCKS5) may reach (default 443)")->type_name("LIST");
  p->add_option("--http-ports", f->http_ports, "Ports plain HTTP may reach (default 80,443,1025-65535)")->type_name("LIST");
  p->add_option("--parent", f->parent, "Chain to this proxy: http://[USER:PASS@]HOST:PORT or socks5h://[USER:PASS@]HOST:PORT")->type_name("URL");
  p->add_option("--no-parent-for", f->no_parent_for, "Go direct to these destinations (no_proxy rules: names, .domains, CIDRs)")->type_name("LIST");
  p->add_option("--threads", f->threads, "Worker threads, one listener each (default: one per core)")->type_name("N");
  p->add_option("--connect-timeout", f->connect_timeout, "Connecting to a destination (default 10s)")->type_name("DUR");
  p->add_option("--header-timeout", f->header_timeout, "A client's request head or SOCKS handshake (default 10s)")->type_name("DUR");
  p->add_option("--response-timeout", f->response_timeout, "The origin's response head (default 60s)")->type_name("DUR");
  p->add_option("--idle-timeout", f->idle_timeout, "Silence while a body streams or in a tunnel (default 5m)")->type_name("DUR");
  p->add_option("--keepalive-timeout", f->keepalive_timeout, "An idle client connection between requests (default 60s)")->type_name("DUR");
  p->add_option("--keepalive", f->keepalive, "Idle origin connections kept per destination and thread (default 256)")->type_name("N");
  p->add_option("--max-conns", f->max_conns, "Client connections at most; more are closed at once (default 10000)")->type_name("N");
  p->add_option("--drain", f->drain, "On SIGTERM/SIGINT, time to let requests in flight finish (default 10s)")->type_name("DUR");
  p->add_option("--access-log", f->access_log, "One line per request or tunnel to FILE, or - for stdout (SIGHUP reopens it)")->type_name("FILE");
  p->add_option("--metrics", f->metrics, "Serve Prometheus metrics at http://[ADDR:]PORT/metrics (a bare PORT: 127.0.0.1 only)")->type_name("[ADDR:]PORT");
  p->add_option("--log-format", f->log_format, "Access log lines: squid (default, Squid's native format) or json")->type_name("FORMAT");
  p->callback([f, &runner] {
    runner = [f] {
      proxy::Options o;
      auto l = Endpoint::parse(f->listen);
      if (!l) throw usage_error("--listen", f->listen, l.error());
      o.listen = *l;
      o.socks = !f->no_socks;
      if (!f->auth.empty() && !f->auth_file.empty()) throw usage_error("--auth-file", f->auth_file, "cannot be used with --auth (choose one)");
      o.auth = f->auth;
      o.auth_file = f->auth_file;
      o.open = f->open;
      o.egress = {.allow_domain = f->allow_domain, .deny_domain = f->deny_domain, .allow_dst = f->allow_dst, .deny_dst = f->deny_dst,
                  .allow_src = f->allow_src, .connect_ports = f->connect_ports, .http_ports = f->http_ports,
                  .auth_configured = !f->auth.empty() || !f->auth_file.empty(), .open = f->open};
      o.threads = count_flag("--threads", f->threads, 0, 256);
      o.connect_timeout = duration_flag("--connect-timeout", f->connect_timeout);
      o.header_timeout = duration_flag("--header-timeout", f->header_timeout);
      o.response_timeout = duration_flag("--response-timeout", f->response_timeout);
      o.idle_timeout = duration_flag("--idle-timeout", f->idle_timeout);
      o.keepalive_timeout = duration_flag("--keepalive-timeout", f->keepalive_timeout);
      o.keepalive = count_flag("--keepalive", f->keepalive, 0, 100000);
      o.max_conns = count_flag("--max-conns", f->max_conns, 1, 10000000);
      o.drain = duration_flag("--drain", f->drain);
      if (f->parent.empty() && !f->no_parent_for.empty()) throw usage_error("--no-parent-for", f->no_parent_for[0], "needs --parent");
      o.parent = f->parent;
      o.no_parent_for = f->no_parent_for;
      o.access_log = f->access_log;
      if (f->log_format == "squid") o.log_format = proxy::LogFormat::squid;
      else if (f->log_format == "json") o.log_format = proxy::LogFormat::json;
      else throw usage_error("--log-format", f->log_format, "is not a log format (expected squid or json)");
      if (!f->metrics.empty()) {
        auto m = Endpoint::parse(f->metrics);
        if (!m) throw usage_error("--metrics", f->metrics, m.error());
        o.metrics = *m;
      }
      return proxy::run(o);
    };
  });
}

}  // namespace edge::cmd
