// What `edge nat` was asked to do; cmd/nat.cpp fills it from flags. Rules are checked there
// (families agree, ranges fit), so the engines can trust them.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/base/duration.h"
#include "core/net/addr.h"

namespace edge::nat {

enum class Proto { tcp, udp };
enum class Engine { kernel, user };
// Which families a rule applies to: both unless -4/-6 or an address says otherwise.
enum class Families { both, v4, v6 };

inline const char* proto_name(Proto p) { return p == Proto::tcp ? "tcp" : "udp"; }

// `snat --out IFACE [--src CIDR] [--to-source ADDR[-ADDR][:PORT-PORT]]` (masquerade without it).
struct SnatRule {
  std::string out_iface;
  std::optional<Cidr> src;
  std::optional<IpAddr> to_lo, to_hi;    // --to-source address (range); unset: masquerade
  std::optional<PortRange> to_ports;     // --to-source :PORT-PORT
  Families families = Families::both;
};

// `dnat [--in IFACE] [--dst ADDR] -p tcp|udp --port PORT[-PORT] --to ADDR[:PORT[-PORT]]`,
// or, for the user engine, `--listen [ADDR:]PORT -p tcp|udp --to HOST:PORT`.
struct DnatRule {
  Proto proto = Proto::tcp;
  std::string in_iface;                  // kernel: match only traffic arriving here
  std::optional<IpAddr> dst;             // kernel: match this address; unset: any local address
  PortRange port;                        // the matched (kernel) or listened-on (user) port(s)
  std::string to_host;                   // kernel: an address literal; user: a name or address
  std::optional<PortRange> to_ports;     // unset: keep the port
  bool hairpin = false;                  // kernel: SNAT clients on the target's own subnet
  std::optional<IpAddr> listen_addr;     // user: --listen ADDR (unset: every address)
  std::optional<IpAddr> to_source;       // user: bind the outgoing side to this address
  Families families = Families::both;
};

struct Options {
  Engine engine = Engine::kernel;
  std::vector<SnatRule> snat;
  std::vector<DnatRule> dnat;
  bool dry_run = false;        // print the ruleset and the iptables equivalent, change nothing
  bool persist = false;        // load a table that outlives edge, then exit
  bool json = false;           // status as JSON lines
  Millis interval{1000};       // how often the status line is refreshed
  std::string netns;           // run inside this named namespace
  Millis udp_timeout{60000};   // user engine: an idle UDP session ends
  unsigned max_flows = 4096;   // user engine: sessions at once; more are refused and counted
  Millis connect_timeout{10000};  // user engine: TCP connect to --to
};

// The kernel engine: nftables rules in an owned table, conntrack marks, ip_forward.
int run_kernel(const Options& o);
// The userspace forwarder: TCP through the splice relay, UDP through a session table.
int run_user(const Options& o);
// `edge nat status`: running instances and persisted tables.
int run_status(bool json);
// `edge nat flush`: remove persisted edge tables and restore ip_forward left by a killed instance.
int run_flush();

}  // namespace edge::nat
