// `edge conntrack [list|stats|watch]`: flags into conntrack::*Options, validated here so that a
// bad value fails before anything starts, then the engine runs.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "cmd/flags.h"
#include "core/base/errors.h"
#include "core/base/numbers.h"
#include "engines/conntrack/options.h"

namespace edge::cmd {
namespace {

using namespace edge::conntrack;

// Flags as typed, kept as text so every value is validated by the core parser that owns it.
struct FilterFlags {
  std::string proto, src, dst, sport, dport, state, mark, nat, family, netns;
  bool json = false;
};
struct ListFlags {
  std::string sort, limit, backend, origin;
  bool reverse = false;
};

void add_filter_flags(CLI::App* app, FilterFlags& f) {
  app->add_option("-p,--proto", f.proto, "Protocol: tcp, udp, icmp, icmpv6, sctp, dccp, udplite, gre or a number")->type_name("PROTO");
  app->add_option("-s,--src", f.src, "Original source address or CIDR, e.g. 10.0.0.0/8")->type_name("CIDR");
  app->add_option("-d,--dst", f.dst, "Original destination address or CIDR")->type_name("CIDR");
  app->add_option("--sport", f.sport, "Original source port or range, e.g. 1024-65535")->type_name("PORT[-PORT]");
  app->add_option("--dport", f.dport, "Original destination port or range, e.g. 443 or 8000-8080")->type_name("PORT[-PORT]");
  app->add_option("--state", f.state, "TCP state: NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2, LISTEN")->type_name("STATE");
  app->add_option("--mark", f.mark, "Conntrack mark VALUE[/MASK], e.g. 0x10/0xff")->type_name("VALUE[/MASK]");
  app->add_option("--nat", f.nat, "Only translated flows: snat, dnat or any")->type_name("KIND");
  app->add_option("--family", f.family, "Address family: ipv4 (or 4) or ipv6 (or 6)")->type_name("FAMILY");
  app->add_option("--netns", f.netns, "Run in this network namespace (an 'ip netns' name or a path)")->type_name("NAME");
  app->add_flag("--json", f.json, "Print JSON instead of a table");
}

void add_list_flags(CLI::App* app, ListFlags& l) {
  app->add_option("--sort", l.sort, "Sort by proto, state, src, dst, sport, dport, timeout, mark, packets or bytes (traffic: biggest first)")->type_name("FIELD");
  app->add_flag("--reverse", l.reverse, "Reverse the --sort order");
  app->add_option("--limit", l.limit, "Print at most N flows (0: all)")->type_name("N");
  app->add_option("--origin", l.origin, "Whose flows: kernel (default), edge (edge's own proxies, no root needed) or all")->type_name("WHO");
  app->add_option("--backend", l.backend, "Where to read the table: auto (netlink, else /proc), netlink or proc")->type_name("SOURCE");
}

CommonOptions common_options(const FilterFlags& f) {
  CommonOptions c;
  FlowFilter& flt = c.filter;
  if (!f.proto.empty()) flt.proto = parse_or_usage("--proto", f.proto, parse_proto(f.proto));
  if (!f.src.empty()) flt.src = parse_or_usage("--src", f.src, Cidr::parse(f.src));
  if (!f.dst.empty()) flt.dst = parse_or_usage("--dst", f.dst, Cidr::parse(f.dst));
  if (!f.sport.empty()) flt.sport = parse_or_usage("--sport", f.sport, PortRange::parse(f.sport));
  if (!f.dport.empty()) flt.dport = parse_or_usage("--dport", f.dport, PortRange::parse(f.dport));
  if (!f.state.empty()) flt.state = parse_or_usage("--state", f.state, parse_tcp_state(f.state));
  if (!f.mark.empty()) {
    auto m = parse_or_usage("--mark", f.mark, parse_mark(f.mark));
    flt.mark = m.value;
    flt.mark_mask = m.mask;
  }
  if (!f.nat.empty()) flt.nat = parse_or_usage("--nat", f.nat, parse_nat_filter(f.nat));
  if (!f.family.empty()) {
    if (f.family == "ipv4" || f.family == "4") flt.family = Family::v4;
    else if (f.family == "ipv6" || f.family == "6") flt.family = Family::v6;
    else throw usage_error("--family", f.family, "is not an address family (expected ipv4 or ipv6)");
  }
  c.netns = f.netns;
  c.json = f.json;
  return c;
}

// Flags given before the subcommand (edge conntrack -p tcp list) and after it both count;
// the later ones win.
FilterFlags merge(const FilterFlags& parent, const FilterFlags& sub) {
  FilterFlags m = parent;
  auto take = [](std::string& dst, const std::string& src) {
    if (!src.empty()) dst = src;
  };
  take(m.proto, sub.proto), take(m.src, sub.src), take(m.dst, sub.dst), take(m.sport, sub.sport);
  take(m.dport, sub.dport), take(m.state, sub.state), take(m.mark, sub.mark), take(m.nat, sub.nat);
  take(m.family, sub.family), take(m.netns, sub.netns);
  m.json = parent.json || sub.json;
  return m;
}

ListOptions list_options(const FilterFlags& f, const ListFlags& l) {
  ListOptions o;
  o.common = common_options(f);
  if (!l.sort.empty()) o.sort = parse_or_usage("--sort", l.sort, parse_sort_field(l.sort));
  o.reverse = l.reverse;
  if (!l.limit.empty()) o.limit = parse_or_usage("--limit", l.limit, parse_count(l.limit));
  if (l.backend == "netlink") o.backend = Backend::netlink;
  else if (l.backend == "proc") o.backend = Backend::proc;
  else if (!l.backend.empty() && l.backend != "auto")
    throw usage_error("--backend", l.backend, "is not a backend (expected auto, netlink or proc)");
  if (l.reverse && l.sort.empty()) throw Fatal(Exit::usage, "--reverse: needs --sort FIELD");
  if (l.origin == "edge") o.origin = Origin::edge;
  else if (l.origin == "all") o.origin = Origin::all;
  else if (!l.origin.empty() && l.origin != "kernel")
    throw usage_error("--origin", l.origin, "is not an origin (expected kernel, edge or all)");
  return o;
}

struct ConntrackFlags {
  FilterFlags top, list, stats, watch;
  ListFlags top_list, list_list;
  std::string warn, top_n = "5";
  std::string events, count, timeout, buffer;
};

}  // namespace

void add_conntrack(CLI::App& app, Runner& runner) {
  auto flags = std::make_shared<ConntrackFlags>();
  CLI::App* ct = app.add_subcommand("conntrack", "The kernel's connection-tracking table: list, stats, watch");
  ct->footer(
      "With no subcommand, lists the table (as 'edge conntrack list').\n"
      "Examples:\n"
      "  edge conntrack -p tcp --dport 443\n"
      "  edge conntrack stats --warn 80\n"
      "  edge conntrack watch --event new,destroy --json\n");
  add_filter_flags(ct, flags->top);
  add_list_flags(ct, flags->top_list);

  CLI::App* list = ct->add_subcommand("list", "List flows, filtered, as an aligned table or a JSON array");
  list->footer(
      "Examples:\n"
      "  edge conntrack list --nat snat -s 10.0.1.0/24\n"
      "  edge conntrack list --sort timeout --reverse --limit 20\n"
      "  edge conntrack list --netns blue --json | jq '.[] | .orig.dst'\n");
  add_filter_flags(list, flags->list);
  add_list_flags(list, flags->list_list);

  CLI::App* stats = ct->add_subcommand("stats", "How full the table is and why: count vs limit, states, drops, top sources");
  stats->footer(
      "Examples:\n"
      "  edge conntrack stats\n"
      "  edge conntrack stats --warn 80 || alert   # exit 1 when more than 80% full\n");
  add_filter_flags(stats, flags->stats);
  stats->add_option("--warn", flags->warn, "Exit 1 when the table is fuller than PCT percent")->type_name("PCT");
  stats->add_option("--top", flags->top_n, "How many top sources to show (default 5, at most 1000)")->type_name("N");

  CLI::App* watch = ct->add_subcommand("watch", "Print conntrack events (new, update, destroy) as they happen");
  watch->footer(
      "Examples:\n"
      "  edge conntrack watch -p udp --dport 53\n"
      "  edge conntrack watch --event destroy --count 10 --json\n"
      "  edge conntrack watch --timeout 30s\n");
  add_filter_flags(watch, flags->watch);
  watch->add_option("--event", flags->events, "Events to show: new, update, destroy or all, comma-separated (default all)")->type_name("LIST");
  watch->add_option("--count", flags->count, "Stop after N matching events (0: no limit, the default)")->type_name("N");
  watch->add_option("--timeout", flags->timeout, "Stop after this long, e.g. 30s, 1.5m (0: no limit, the default)")->type_name("DUR");
  watch->add_option("--buffer", flags->buffer, "Kernel socket buffer for events, e.g. 8M (bigger loses fewer in bursts)")->type_name("SIZE");

  ct->callback([=, &runner] {
    if (stats->parsed() || watch->parsed()) {
      const ListFlags l = flags->top_list;
      const std::string which = stats->parsed() ? "stats" : "watch";
      auto list_only = [which](const char* flag) {
        return Fatal(Exit::usage, std::string(flag) + ": applies to 'edge conntrack list', not '" + which + "'");
      };
      runner = [l, list_only]() -> int {
        if (!l.sort.empty()) throw list_only("--sort");
        if (!l.limit.empty()) throw list_only("--limit");
        if (!l.backend.empty()) throw list_only("--backend");
        if (!l.origin.empty()) throw list_only("--origin");
        if (l.reverse) throw list_only("--reverse");
        return 0;
      };
    }
    Runner check_list_only = runner;
    if (stats->parsed()) {
      runner = [=] {
        check_list_only();
        StatsOptions o;
        o.common = common_options(merge(flags->top, flags->stats));
        if (!flags->warn.empty()) o.warn_pct = parse_or_usage("--warn", flags->warn, parse_percent(flags->warn));
        auto top = parse_or_usage("--top", flags->top_n, parse_count(flags->top_n));
        if (top > 1000) throw usage_error("--top", flags->top_n, "is too many (at most 1000)");
        o.top = unsigned(top);
        return run_stats(o);
      };
    } else if (watch->parsed()) {
      runner = [=] {
        check_list_only();
        WatchOptions o;
        o.common = common_options(merge(flags->top, flags->watch));
        if (!flags->events.empty()) o.events = parse_or_usage("--event", flags->events, parse_event_mask(flags->events));
        // 0 is "no limit", as for list --limit: stop conditions, not deadlines.
        if (!flags->count.empty())
          if (auto n = parse_or_usage("--count", flags->count, parse_count(flags->count)); n > 0) o.count = n;
        if (!flags->timeout.empty())
          if (auto d = parse_or_usage("--timeout", flags->timeout, parse_duration(flags->timeout)); d.count() > 0) o.timeout = d;
        if (!flags->buffer.empty()) {
          auto b = parse_or_usage("--buffer", flags->buffer, parse_size(flags->buffer));
          if (b < 4096 || b > (1u << 30)) throw usage_error("--buffer", flags->buffer, "is out of range (4K-1G)");
          o.buffer_bytes = int(b);
        }
        return run_watch(o);
      };
    } else {
      runner = [=] {
        ListFlags l = flags->top_list;
        const ListFlags& s = flags->list_list;
        if (!s.sort.empty()) l.sort = s.sort;
        if (!s.limit.empty()) l.limit = s.limit;
        if (!s.backend.empty()) l.backend = s.backend;
        if (!s.origin.empty()) l.origin = s.origin;
        l.reverse = l.reverse || s.reverse;
        return run_list(list_options(merge(flags->top, flags->list), l));
      };
    }
  });
}

}  // namespace edge::cmd
