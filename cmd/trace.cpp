// `edge trace TARGET`: flags into trace::TraceOptions, validated before anything is probed.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "cmd/flags.h"
#include "core/base/errors.h"
#include "core/trace/proxy_env.h"
#include "core/trace/tls_probe.h"
#include "engines/trace/options.h"

namespace edge::cmd {

void add_trace(CLI::App& app, Runner& runner) {
  struct Flags {
    std::string target, timeout = "3s", proxy, cacert, cert, key, netns;
    bool v4 = false, v6 = false, json = false, hops = false, mtu = false, body = false;
    std::string capture, max_body, follow;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* t = app.add_subcommand("trace", "Which layer broke: one probe through proxy config, DNS, route, TCP, proxy, TLS and HTTP");
  t->footer(
      "TARGET is a URL (http://, https://), tls://HOST:PORT (TLS without HTTP) or HOST:PORT (plain TCP).\n"
      "Exit status: 0 when every layer passed, else one code per cause (10-19 proxy-config, 20-29 dns,\n"
      "30-39 route, 40-49 tcp, 50-59 proxy, 60-69 tls, 70-79 http; see 'man edge-trace').\n"
      "Examples:\n"
      "  edge trace https://example.com/health\n"
      "  edge trace --proxy http://proxy:3128 https://example.com\n"
      "  edge trace -6 --timeout 2s tls://mail.example.com:465\n"
      "  edge trace --json 10.0.0.5:5432 | jq .verdict\n"
      "  edge trace --hops --capture probe.pcap 192.0.2.10:443\n"
      "  edge trace --cert me.pem --key me.key https://mtls.example.com/\n"
      "  edge trace --body --max-body 64M https://example.com/big.iso\n"
      "  edge trace -L http://example.com/   (or --follow=3)\n");
  t->add_option("target", f->target, "What to probe: URL, tls://HOST:PORT or HOST:PORT")->required()->type_name("TARGET");
  t->add_flag("-4", f->v4, "Follow the IPv4 address");
  t->add_flag("-6", f->v6, "Follow the IPv6 address");
  t->add_option("--timeout", f->timeout, "Time allowed per layer, 10ms-10m, e.g. 1.5s (default 3s; 0 is refused: every layer has a deadline)")->type_name("DUR");
  t->add_option("--proxy", f->proxy, "Use this proxy (http://HOST:PORT, https://HOST:PORT, socks5h://HOST:PORT), or 'none'; default: the proxy environment variables")->type_name("URL");
  t->add_option("--cacert", f->cacert, "Trust this CA bundle instead of the system store")->type_name("FILE");
  t->add_option("--cert", f->cert, "Send this client certificate (PEM, chain allowed) when the server asks for one; needs --key")->type_name("FILE");
  t->add_option("--key", f->key, "The private key (PEM) of --cert")->type_name("FILE");
  t->add_option("--netns", f->netns, "Probe from inside this network namespace")->type_name("NAME");
  t->add_flag("--json", f->json, "Print JSON: the layers, their evidence and the verdict");
  t->add_flag("--hops", f->hops, "Also find the hop where packets die (TTL-limited connects; no root needed)");
  t->add_flag("--mtu", f->mtu, "Also read the whole response; if it stalls, retry with a small MSS to detect an MTU blackhole");
  t->add_flag("--body", f->body, "Also read the whole response body: its size and time; one that ends early is truncated_body");
  t->add_option("--max-body", f->max_body, "Read at most SIZE of the body (e.g. 512K, 64M; default 16M); implies --body")->type_name("SIZE");
  t->add_flag("-L{10},--follow{10}", f->follow,
              "Follow redirects, each traced as its own hop, up to 10 (--follow=N: up to N, 0-50); a loop is redirect_loop");
  t->add_option("--capture", f->capture, "Write the probe's packets to FILE as pcap (needs CAP_NET_RAW)")->type_name("FILE");
  t->callback([f, &runner] {
    runner = [f] {
      trace::TraceOptions o;
      o.target = parse_or_usage("TARGET", f->target, trace::parse_target(f->target));
      if (f->v4 && f->v6) throw Fatal(Exit::usage, "-4 and -6: choose one family");
      if (f->v4) o.family = Family::v4;
      if (f->v6) o.family = Family::v6;
      o.timeout = parse_or_usage("--timeout", f->timeout, parse_duration(f->timeout));
      if (o.timeout.count() < 10 || o.timeout.count() > 600'000) throw usage_error("--timeout", f->timeout, "is out of range (10ms-10m)");
      if (!f->proxy.empty()) {
        std::string err;
        if (f->proxy != "none" && !parse_proxy_url(f->proxy, err)) throw Fatal(Exit::usage, "--proxy: " + err);
        o.proxy = f->proxy;
      }
      if (!f->cacert.empty() && access(f->cacert.c_str(), R_OK) != 0)
        throw usage_error("--cacert", f->cacert, "is not a readable file");
      o.cacert = f->cacert;
      if (f->cert.empty() != f->key.empty()) throw Fatal(Exit::usage, "--cert and --key: give both or neither");
      if (!f->cert.empty()) {
        if (access(f->cert.c_str(), R_OK) != 0) throw usage_error("--cert", f->cert, "is not a readable file");
        if (access(f->key.c_str(), R_OK) != 0) throw usage_error("--key", f->key, "is not a readable file");
        if (std::string why = trace::client_cert_problem(f->cert, f->key); !why.empty()) throw Fatal(Exit::usage, why);
      }
      o.cert = f->cert;
      o.key = f->key;
      o.netns = f->netns;
      o.json = f->json;
      o.hops = f->hops;
      o.mtu = f->mtu;
      if (!f->follow.empty()) o.follow = int(count_flag("--follow", f->follow, 0, 50));
      o.body = f->body || !f->max_body.empty();
      if (!f->max_body.empty()) {
        o.max_body = parse_or_usage("--max-body", f->max_body, parse_size(f->max_body));
        if (o.max_body == 0) throw usage_error("--max-body", f->max_body, "must be more than 0");
      }
      o.capture = f->capture;
      return trace::run_trace(o);
    };
  });
}

}  // namespace edge::cmd
