// The kernel engine of `edge nat`: loads the rules into an nftables table this process owns
// (one transaction, one libnftables context for its whole life), marks its flows, turns
// forwarding on, shows a live status line, and on exit removes the table, the conntrack
// entries carrying its mark, and puts forwarding back. SIGKILL skips the exit path: the kernel
// still drops the owned table, and the next start sweeps the marks and forwarding it left.
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <mutex>

#include "core/base/errors.h"
#include "core/base/fd.h"
#include "core/conntrack/kernel_table.h"
#include "core/conntrack/sweep.h"
#include "core/control/control.h"
#include "core/flow/table.h"
#include "core/nft/session.h"
#include "engines/nat/forwarding.h"
#include "engines/nat/options.h"
#include "engines/nat/ruleset.h"
#include "engines/nat/status.h"

namespace edge::nat {
namespace json = boost::json;
namespace {

struct LocalAddr {
  std::string iface;
  IpAddr addr;
  int prefix = 0;
};

std::vector<LocalAddr> local_addresses() {
  std::vector<LocalAddr> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) < 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
    const bool v6 = i->ifa_addr->sa_family == AF_INET6;
    const void* a = v6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr)
                       : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr);
    const void* m = !i->ifa_netmask ? nullptr
                    : v6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_netmask)->sin6_addr)
                         : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr);
    LocalAddr l{i->ifa_name, IpAddr::from_bytes(v6 ? Family::v6 : Family::v4, a), 0};
    if (m)
      for (size_t b = 0; b < (v6 ? 16u : 4u); ++b) l.prefix += __builtin_popcount(static_cast<const uint8_t*>(m)[b]);
    out.push_back(l);
  }
  freeifaddrs(list);
  return out;
}

// --hairpin: the interface and subnet of this host that hold the target.
std::optional<HairpinNet> hairpin_net(const DnatRule& r, const std::vector<LocalAddr>& locals) {
  auto to = IpAddr::parse(r.to_host);
  for (const auto& l : locals) {
    if (l.addr.family() != to->family() || l.iface == "lo") continue;
    auto c = Cidr::parse(l.addr.str() + "/" + std::to_string(l.prefix));
    if (c && c->contains(*to)) return HairpinNet{l.iface, *Cidr::parse(c->network().str() + "/" + std::to_string(l.prefix))};
  }
  return std::nullopt;
}

void check_interfaces(const Options& o) {
  auto check = [](const char* flag, const std::string& name) {
    if (!name.empty() && if_nametoindex(name.c_str()) == 0)
      throw usage_error(flag, name, "is not an interface in this network namespace ('ip link' lists them)");
  };
  for (const auto& r : o.snat) check("--out", r.out_iface);
  for (const auto& r : o.dnat) check("--in", r.in_iface);
}

// nft's error text, first line, into the exit code it means.
[[noreturn]] void load_failed(const nft::Result& r) {
  std::string first = r.error.substr(0, r.error.find('\n'));
  if (r.error.find("Operation not permitted") != std::string::npos)
    throw Fatal(Exit::privilege, "nat: loading nftables rules needs CAP_NET_ADMIN (run as root), or forward in userspace: dnat --engine user --listen PORT");
  if (r.error.find("Operation not supported") != std::string::npos || r.error.find("No such file or directory") != std::string::npos ||
      r.error.find("Protocol not supported") != std::string::npos)
    throw Fatal(Exit::environment, "nat: this kernel lacks nftables NAT (nf_tables, nft_nat, nft_fib, nft_ct, nft_masq modules): " + first);
  throw Fatal(Exit::failed, "nat: nft refused the ruleset: " + first);
}

bool is_edge_pid(uint32_t pid) {
  if (kill(pid_t(pid), 0) < 0 && errno != EPERM) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  comm >> name;
  return name == "edge";
}

// The table's counters: new flows and bytes through this instance's rules.
void read_counters(nft::Session& nft, const std::string& table, Sample& s) {
  auto r = nft.run("list counters table inet " + table, true);
  if (!r.ok) return;
  boost::system::error_code ec;
  json::value v = json::parse(r.output, ec);
  if (ec || !v.is_object() || !v.as_object().contains("nftables")) return;
  for (const auto& item : v.at("nftables").as_array()) {
    if (!item.is_object() || !item.as_object().contains("counter")) continue;
    const auto& c = item.at("counter").as_object();
    const auto name = json::value_to<std::string>(c.at("name"));
    const uint64_t packets = c.at("packets").to_number<uint64_t>(), bytes = c.at("bytes").to_number<uint64_t>();
    if (name == "edge_flows") s.flows_total = packets;
    if (name == "edge_bytes") s.bytes_total = bytes;
  }
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

int run_kernel(const Options& o) {
  const uint32_t pid = uint32_t(getpid());
  RulesetParams p;
  p.table = (o.persist ? "edge_persist_" : "edge_nat_") + std::to_string(pid);
  p.mark = mark_for_pid(pid, o.persist);
  p.owner = !o.persist;
  const auto locals = local_addresses();
  for (const auto& r : o.dnat) {
    if (!r.hairpin) {
      p.hairpin.push_back(std::nullopt);
      continue;
    }
    auto h = hairpin_net(r, locals);
    if (!h) throw usage_error("--hairpin", r.to_host, "is not on a subnet of this host's interfaces (hairpin NAT is for targets on a local network)");
    p.hairpin.push_back(h);
  }
  const std::string script = nft_script(o, p);
  if (o.dry_run) {
    std::fputs(script.c_str(), stdout);
    std::fputs(("\n" + iptables_script(o, p)).c_str(), stdout);
    return 0;
  }
  check_interfaces(o);

  // Block the stop signals before the table exists: from here every exit runs the cleanup.
  sigset_t sigs = stop_signals();
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  UniqueFd sfd(signalfd(-1, &sigs, SFD_CLOEXEC));

  nft::Session nft;
  // Marks of instances that are gone (killed): their flows lost their rules with the table.
  const uint64_t swept = delete_flows([](const CtEntry& e) { return !is_edge_pid(e.mark & 0x00FFFFFF); }, MarkFilter{kMarkTag, kMarkTagMask});
  if (auto r = nft.run(script); !r.ok) load_failed(r);
  // Flows that began before a DNAT rule existed (UDP especially) would keep bypassing it.
  uint64_t preexisting = 0;
  if (!o.dnat.empty()) {
    preexisting = delete_flows([&](const CtEntry& e) {
      if (e.mark == p.mark) return false;
      for (const auto& r : o.dnat) {
        if (e.proto != (r.proto == Proto::tcp ? IPPROTO_TCP : IPPROTO_UDP) || !r.port.contains(e.orig_dport)) continue;
        if (r.dst ? e.orig_dst == *r.dst : std::any_of(locals.begin(), locals.end(), [&](const LocalAddr& l) { return l.addr == e.orig_dst; }))
          return true;
      }
      return false;
    });
  }
  bool need[2] = {false, false};
  auto want = [&](Families f) { need[0] |= f != Families::v6, need[1] |= f != Families::v4; };
  for (const auto& r : o.snat) want(r.src ? (r.src->network().family() == Family::v6 ? Families::v6 : Families::v4) : r.to_lo ? (r.to_lo->family() == Family::v6 ? Families::v6 : Families::v4) : r.families);
  for (const auto& r : o.dnat) want(r.to_host.find(':') != std::string::npos ? Families::v6 : Families::v4);
  Forwarding fwd(need[0], need[1], o.persist);

  const auto rules = describe_rules(o);
  std::fprintf(stderr, "edge nat: %zu rule%s in table inet %s, flows marked 0x%08x%s\n", rules.size(), rules.size() == 1 ? "" : "s",
               p.table.c_str(), p.mark, o.persist ? " (persisted: 'edge nat flush' removes it)" : " (owned: the kernel removes it when edge exits)");
  for (const auto& r : rules) std::fprintf(stderr, "edge nat:   %s\n", r.c_str());
  for (const auto& n : fwd.notes()) std::fprintf(stderr, "edge nat: %s\n", n.c_str());
  if (swept) std::fprintf(stderr, "edge nat: deleted %llu conntrack entries left by an edge nat that was killed\n", (unsigned long long)swept);
  if (preexisting)
    std::fprintf(stderr, "edge nat: deleted %llu conntrack entries that began before the dnat rules (they would bypass them)\n",
                 (unsigned long long)preexisting);
  if (o.persist) return 0;

  FlowTable none("nat");
  std::mutex mu;
  Sample last;
  const auto since = std::chrono::system_clock::now();
  ControlServer control(none, "nat", [&] {
    std::lock_guard lock(mu);
    return status_json(o, "kernel", since, last, "inet " + p.table);
  });
  std::optional<KernelTable> kt;
  try {
    kt.emplace(KernelTable::open());
  } catch (const Fatal&) {
  }
  StatusPrinter printer(o.json, "kernel");
  int signo = 0;
  while (true) {
    Sample s;
    s.flows_now = count_flows(MarkFilter{p.mark, 0xFFFFFFFF});
    read_counters(nft, p.table, s);
    if (kt) s.conntrack = kt->count();
    {
      std::lock_guard lock(mu);
      last = s;
    }
    printer.print(s);
    pollfd pf{sfd.get(), POLLIN, 0};
    if (poll(&pf, 1, int(o.interval.count())) > 0) {
      signalfd_siginfo si;
      if (read(sfd.get(), &si, sizeof si) == sizeof si) signo = int(si.ssi_signo);
      if (signo == SIGHUP) {  // no logs to reopen; SIGHUP stops, as for a terminal that went away
      }
      break;
    }
  }
  printer.finish();
  // Explicitly, so the flows below can no longer be re-marked; closing the socket would too.
  nft.run("delete table inet " + p.table);
  const uint64_t deleted = delete_flows([](const CtEntry&) { return true; }, MarkFilter{p.mark, 0xFFFFFFFF});
  std::fprintf(stderr, "edge nat: stopped (%s): table inet %s removed, %llu conntrack entries of its flows deleted\n", strsignal(signo),
               p.table.c_str(), (unsigned long long)deleted);
  return 0;
}

}  // namespace edge::nat
