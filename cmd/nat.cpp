// `edge nat snat ... dnat ... [status|flush]`: each rule word starts a rule (repeat them for
// several rules in one process); flags into nat::Options, every value checked before anything
// is loaded or opened.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "cmd/flags.h"
#include "core/base/caps.h"
#include "core/base/errors.h"
#include "core/base/netns.h"
#include "engines/nat/options.h"
#include "engines/nat/rule_check.h"

namespace edge::cmd {

void add_nat(CLI::App& app, Runner& runner) {
  struct Flags {
    std::string engine = "auto", interval = "1s", netns, udp_timeout = "60s", max_flows = "4096", connect_timeout = "10s";
    bool dry_run = false, persist = false, json = false, status_json = false;
    std::vector<nat::SnatFlags> snat;
    std::vector<nat::DnatFlags> dnat;
    nat::SnatFlags s;  // the rule being parsed (CLI11 clears a repeated subcommand's flags)
    nat::DnatFlags d;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* n = app.add_subcommand("nat", "An ad hoc SNAT/masquerade/DNAT box: kernel rules that vanish when edge exits, or a rootless port-forwarder");
  n->require_subcommand(1, 0);
  n->footer(
      "Rules: each 'snat' or 'dnat' word starts a rule; repeat them for several rules in one process.\n"
      "Kernel rules live in an nftables table owned by this process: the kernel removes it when edge exits,\n"
      "SIGKILL included. Flows through them carry this instance's conntrack mark and are deleted at exit.\n"
      "Without CAP_NET_ADMIN the user engine forwards TCP and UDP itself (dnat --listen).\n"
      "\n"
      "Examples:\n"
      "  edge nat snat --out wan0                                    # masquerade everything leaving wan0\n"
      "  edge nat snat --out wan0 --src 10.0.1.0/24 --to-source 198.51.100.7\n"
      "  edge nat dnat -p tcp --port 8080 --to 10.0.2.2:80            # port-forward this host's :8080\n"
      "  edge nat dnat --in wan0 -p udp --port 9000-9004 --to 10.0.2.2 snat --out wan0\n"
      "  edge nat dnat -p tcp --port 443 --to [fd00::2]:8443 --hairpin\n"
      "  edge nat dnat --engine user --listen 8080 -p tcp --to backend.local:80   # no root needed\n"
      "  edge nat snat --out wan0 --dry-run | nft -c -f -              # print the ruleset, change nothing\n"
      "  edge nat status --json\n");
  n->add_option("--engine", f->engine, "kernel (nftables; needs CAP_NET_ADMIN), user (a userspace forwarder), or auto (default)")->type_name("ENGINE");
  n->add_flag("--dry-run", f->dry_run, "Print the nft ruleset and the iptables equivalent, change nothing");
  n->add_flag("--persist", f->persist, "Load the rules in a table that outlives edge, then exit ('edge nat flush' removes it)");
  n->add_flag("--json", f->json, "Status as JSON lines, one per --interval");
  n->add_option("--interval", f->interval, "How often the status line is refreshed (default 1s)")->type_name("DUR");
  n->add_option("--netns", f->netns, "Run inside this network namespace (ip netns name or /proc/PID/ns/net)")->type_name("NAME");
  n->add_option("--udp-timeout", f->udp_timeout, "User engine: an idle UDP session ends after this (default 60s)")->type_name("DUR");
  n->add_option("--max-flows", f->max_flows, "User engine: flows at once; more are refused and counted (default 4096)")->type_name("N");
  n->add_option("--connect-timeout", f->connect_timeout, "User engine: connecting to --to (default 10s)")->type_name("DUR");

  CLI::App* s = n->add_subcommand("snat", "Source NAT for traffic leaving an interface (masquerade without --to-source)");
  s->immediate_callback()->fallthrough();
  s->add_option("--out", f->s.out, "The interface traffic leaves by (required)")->type_name("IFACE")->required();
  s->add_option("--src", f->s.src, "Only traffic from this CIDR")->type_name("CIDR");
  s->add_option("--to-source", f->s.to_source, "Translate to this address (range) and port range; default: masquerade")
      ->type_name("ADDR[-ADDR][:PORT-PORT]");
  s->add_flag("-4", f->s.v4, "IPv4 only");
  s->add_flag("-6", f->s.v6, "IPv6 only (NAT66)");
  s->callback([f] { f->snat.push_back(std::exchange(f->s, {})); });

  CLI::App* d = n->add_subcommand("dnat", "Destination NAT: forward a port (or range) to another address");
  d->immediate_callback()->fallthrough();
  d->add_option("-p,--proto", f->d.proto, "tcp or udp (required)")->type_name("PROTO")->required();
  d->add_option("--port", f->d.port, "The port (range) to forward; a range maps one to one onto a --to range of the same size")
      ->type_name("PORT[-PORT]");
  d->add_option("--to", f->d.to, "Where to: ADDR keeps the port, ADDR:PORT, ADDR:LOW-HIGH; [IPV6]:PORT (user engine: HOST:PORT)")
      ->type_name("ADDR[:PORT[-PORT]]");
  d->add_option("--in", f->d.in, "Only traffic arriving on this interface (no DNAT of the host's own traffic then)")->type_name("IFACE");
  d->add_option("--dst", f->d.dst, "Only traffic to this address (default: any of this host's addresses)")->type_name("ADDR");
  d->add_flag("--hairpin", f->d.hairpin, "Also SNAT clients on the target's own subnet, so they can use the public address");
  d->add_option("--listen", f->d.listen, "Match (kernel) or listen on (user engine) this [ADDR:]PORT[-PORT]")->type_name("[ADDR:]PORT");
  d->add_option("--to-source", f->d.to_source, "User engine: connect to --to from this source address")->type_name("ADDR");
  d->add_flag("-4", f->d.v4, "IPv4 only");
  d->add_flag("-6", f->d.v6, "IPv6 only");
  d->callback([f] { f->dnat.push_back(std::exchange(f->d, {})); });

  CLI::App* st = n->add_subcommand("status", "The running edge nat instances on this host, and persisted edge tables");
  st->add_flag("--json", f->status_json, "One JSON object");
  st->callback([f, &runner] { runner = [f] { return nat::run_status(f->status_json); }; });
  CLI::App* fl = n->add_subcommand("flush", "Remove persisted edge tables; put back ip_forward a killed instance left on");
  fl->callback([&runner] { runner = [] { return nat::run_flush(); }; });

  n->callback([f, &runner] {
    if (runner) return;  // status or flush
    runner = [f] {
      if (f->snat.empty() && f->dnat.empty()) throw Fatal(Exit::usage, "nat: no rule given (expected snat, dnat, status or flush)");
      nat::Options o;
      o.dry_run = f->dry_run, o.persist = f->persist, o.json = f->json;
      o.interval = duration_flag("--interval", f->interval);
      o.udp_timeout = duration_flag("--udp-timeout", f->udp_timeout);
      o.connect_timeout = duration_flag("--connect-timeout", f->connect_timeout);
      o.max_flows = count_flag("--max-flows", f->max_flows, 1, 10000000);
      o.netns = f->netns;
      const bool all_listen = !f->dnat.empty() && f->snat.empty() &&
                              std::all_of(f->dnat.begin(), f->dnat.end(), [](const nat::DnatFlags& d) { return !d.listen.empty(); });
      bool auto_user = false;
      if (f->engine == "kernel") o.engine = nat::Engine::kernel;
      else if (f->engine == "user") o.engine = nat::Engine::user;
      else if (f->engine == "auto") {
        auto_user = !f->dry_run && !f->persist && !has_net_admin();
        o.engine = auto_user ? nat::Engine::user : nat::Engine::kernel;
      } else
        throw usage_error("--engine", f->engine, "is not an engine (expected kernel, user or auto)");
      if (o.engine == nat::Engine::user) {
        if (!f->snat.empty())
          throw Fatal(auto_user ? Exit::privilege : Exit::usage,
                      auto_user ? "snat: kernel NAT needs CAP_NET_ADMIN (run as root); the user engine forwards ports only (dnat --listen)"
                                : "snat: --engine user forwards ports only (dnat --listen); source NAT needs the kernel engine");
        if (auto_user && !all_listen)
          throw Fatal(Exit::privilege, "dnat: kernel NAT needs CAP_NET_ADMIN (run as root), or forward in userspace: dnat --engine user --listen [ADDR:]PORT");
        if (f->dry_run || f->persist) throw Fatal(Exit::usage, "--dry-run and --persist are for kernel rules (--engine kernel)");
      }
      if (f->persist && f->dry_run) throw usage_error("--persist", "", "cannot be used with --dry-run");
      for (const auto& sf : f->snat) o.snat.push_back(nat::check_snat(sf));
      for (const auto& df : f->dnat) o.dnat.push_back(nat::check_dnat(df, o.engine));
      if (!o.netns.empty()) enter_netns(o.netns, "--netns");
      return o.engine == nat::Engine::user ? nat::run_user(o) : nat::run_kernel(o);
    };
  });
}

}  // namespace edge::cmd
