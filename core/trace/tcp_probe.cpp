// TCP connect classification. The capture is best effort: without CAP_NET_RAW it is skipped
// and a silent drop stays "timeout" (the evidence says the capture was not possible).
#include "core/trace/tcp_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "core/capture/pcap_api.h"
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/base/errors.h"
#include "core/conntrack/kernel_table.h"
#include "core/trace/classify.h"

namespace edge::trace {
namespace {

socklen_t to_sockaddr(const IpAddr& a, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.family() == Family::v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a.bytes(), 4);
    return sizeof *sin;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, a.bytes(), 16);
  return sizeof *sin6;
}

// Watches the egress interface for our SYN. Opened before connect(), read after.
class SynWatch {
 public:
  SynWatch(const std::string& iface, const IpAddr& dst, uint16_t sport, uint16_t dport) {
    char err[PCAP_ERRBUF_SIZE];
    if (!pcap_api()) {
      why_ = "libpcap is not installed";
      return;
    }
    p_ = pcap_api()->create(iface.c_str(), err);
    if (!p_) {
      why_ = err;
      return;
    }
    pcap_api()->set_snaplen(p_, 128);
    pcap_api()->set_immediate_mode(p_, 1);
    pcap_api()->set_timeout(p_, 10);
    if (pcap_api()->activate(p_) < 0) {
      why_ = pcap_api()->geterr(p_);
      close();
      return;
    }
    const std::string filter = "tcp and src port " + std::to_string(sport) + " and dst port " + std::to_string(dport) +
                               " and dst host " + dst.str();
    bpf_program prog;
    if (pcap_api()->compile(p_, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_api()->setfilter(p_, &prog) < 0) {
      why_ = pcap_api()->geterr(p_);
      close();
      return;
    }
    pcap_api()->freecode(&prog);
    pcap_api()->setnonblock(p_, 1, err);
  }
  ~SynWatch() { close(); }
  bool active() const { return p_ != nullptr; }
  const std::string& why_not() const { return why_; }
  // Packets of ours seen on the interface so far.
  int seen() {
    if (!p_) return 0;
    int n = 0;
    while (true) {
      int r = pcap_api()->dispatch(p_, -1, [](u_char* u, const pcap_pkthdr*, const u_char*) { ++*reinterpret_cast<int*>(u); },
                            reinterpret_cast<u_char*>(&n));
      if (r <= 0) break;
    }
    return n;
  }

 private:
  void close() {
    if (p_) pcap_api()->close(p_);
    p_ = nullptr;
  }
  pcap_t* p_ = nullptr;
  std::string why_;
};

// This host's conntrack counters, when readable (CAP_NET_ADMIN): `drop` rises when a full
// table refuses a new entry, `insert_failed` when NAT left the new flow a tuple already taken.
struct CtCounters {
  uint64_t drop = 0, insert_failed = 0;
};
std::optional<CtCounters> conntrack_counters() {
  try {
    const auto s = KernelTable::open().cpu_stats();
    return CtCounters{s.drop, s.insert_failed};
  } catch (const Fatal&) {
    return std::nullopt;
  }
}

std::string icmp_text(const IcmpError& e) {
  std::string kind;
  if (!e.v6 && e.type == 3) {
    switch (e.code) {
      case 0: kind = "network unreachable"; break;
      case 1: kind = "host unreachable"; break;
      case 2: kind = "protocol unreachable"; break;
      case 3: kind = "port unreachable"; break;
      case 9: kind = "network administratively prohibited"; break;
      case 10: kind = "host administratively prohibited"; break;
      case 13: kind = "communication administratively prohibited"; break;
      default: kind = "destination unreachable (code " + std::to_string(e.code) + ")";
    }
  } else if (!e.v6 && e.type == 11) {
    kind = "time exceeded";
  } else if (e.v6 && e.type == 1) {
    switch (e.code) {
      case 0: kind = "no route to destination"; break;
      case 1: kind = "administratively prohibited"; break;
      case 3: kind = "address unreachable"; break;
      case 4: kind = "port unreachable"; break;
      default: kind = "destination unreachable (code " + std::to_string(e.code) + ")";
    }
  } else {
    kind = "type " + std::to_string(e.type) + " code " + std::to_string(e.code);
  }
  return std::string(e.v6 ? "ICMPv6 " : "ICMP ") + kind + (e.offender ? " from " + e.offender->str() : "");
}

}  // namespace

LayerResult probe_tcp(const std::string& layer_name, const IpAddr& addr, uint16_t port, const RouteInfo* route,
                      Millis timeout, std::unique_ptr<Stream>& out, int mss) {
  LayerClock clock;
  LayerResult r;
  r.name = layer_name;
  const std::string target = (addr.family() == Family::v6 ? "[" + addr.str() + "]" : addr.str()) + ":" + std::to_string(port);
  r.evidence["target"] = target;
  const bool v6 = addr.family() == Family::v6;
  UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail(std::move(r), "tcp_error", std::string("socket: ") + std::strerror(errno));
  enable_recverr(fd.get(), v6);
  if (mss > 0) setsockopt(fd.get(), IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);

  // Bind first so the source port is known before the SYN leaves: the capture filters on it.
  sockaddr_storage local{};
  socklen_t local_len = to_sockaddr(v6 ? *IpAddr::parse("::") : IpAddr(), 0, local);
  bind(fd.get(), reinterpret_cast<sockaddr*>(&local), local_len);
  local_len = sizeof local;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &local_len);
  const uint16_t sport = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port : reinterpret_cast<sockaddr_in*>(&local)->sin_port);

  std::optional<SynWatch> watch;
  if (route && !route->interface.empty() && !route->local) watch.emplace(route->interface, addr, sport, port);
  const auto ct_before = conntrack_counters();

  TcpObservation obs;
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(addr, port, ss);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) {
    obs.connect_errno = errno;
  } else {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        obs.timed_out = true;
        break;
      }
      pollfd p{fd.get(), POLLOUT, 0};
      int pr = poll(&p, 1, int(left));
      if (pr < 0 && errno == EINTR) continue;
      if (pr == 0) {
        obs.timed_out = true;
        break;
      }
      socklen_t sl = sizeof obs.so_error;
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &obs.so_error, &sl);
      break;
    }
  }
  const int err = obs.connect_errno ? obs.connect_errno : obs.so_error;
  if (err) obs.icmp = read_error_queue(fd.get());
  if (obs.timed_out || err) {
    if (watch && watch->active()) obs.syn_left = watch->seen() > 0;
    const auto ct_after = conntrack_counters();
    if (ct_before && ct_after) {
      obs.conntrack_drops = ct_after->drop - ct_before->drop;
      obs.conntrack_insert_failed = ct_after->insert_failed - ct_before->insert_failed;
    }
  }
  r.duration_ms = clock.elapsed_ms();

  // Evidence: everything observed, whatever the verdict.
  local_len = sizeof local;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &local_len);
  r.evidence["source_port"] = sport;
  if (err) r.evidence["errno"] = std::strerror(err);
  if (obs.icmp) {
    boost::json::object icmp;
    icmp["type"] = obs.icmp->type;
    icmp["code"] = obs.icmp->code;
    icmp["from"] = obs.icmp->offender ? boost::json::value(obs.icmp->offender->str()) : boost::json::value(nullptr);
    icmp["text"] = icmp_text(*obs.icmp);
    r.evidence["icmp"] = std::move(icmp);
  }
  if (obs.syn_left) r.evidence["syn_left_host"] = *obs.syn_left;
  else if (watch && !watch->active()) r.evidence["capture"] = "not possible: " + watch->why_not();
  if (obs.conntrack_drops) r.evidence["conntrack_drops_during_probe"] = *obs.conntrack_drops;
  if (obs.conntrack_insert_failed) r.evidence["conntrack_insert_failed_during_probe"] = *obs.conntrack_insert_failed;
  else if (obs.timed_out) r.evidence["conntrack"] = "counters not readable (needs CAP_NET_ADMIN): a full table or NAT exhaustion cannot be told from a drop";

  const std::string cause(classify_tcp(obs));
  if (cause.empty()) {
    tcp_info ti{};
    socklen_t tl = sizeof ti;
    if (getsockopt(fd.get(), IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0) r.evidence["rtt_ms"] = ti.tcpi_rtt / 1000.0;
    r.status = Status::ok;
    r.summary = "connected to " + target + " in " + std::to_string(int(r.duration_ms + 0.5)) + "ms";
    out = std::make_unique<Stream>(std::move(fd));
    return r;
  }
  std::string why;
  if (cause == "refused") why = target + " refused the connection (TCP reset: nothing listens there)";
  else if (cause == "timeout")
    why = "no answer to the SYN to " + target + " within " + format_duration(timeout) +
          (obs.syn_left ? " (the SYN left via " + route->interface + "; dropped on the way or at the target)" : " (dropped somewhere)");
  else if (cause == "local_drop") why = "the SYN to " + target + " never left " + route->interface + ": this host dropped it (a local firewall rule)";
  else if (cause == "nat_exhausted")
    why = "this host's NAT has no free tuple for the flow to " + target + ": the SYN was dropped as conntrack's insert_failed rose by " +
          std::to_string(*obs.conntrack_insert_failed) + " during the probe (the SNAT/masquerade source ports for this destination are used up)";
  else if (cause == "conntrack_full")
    why = "this host's conntrack table is full: " + std::to_string(*obs.conntrack_drops) + " packet(s) dropped during the probe";
  else if (obs.icmp) why = icmp_text(*obs.icmp) + " for " + target;
  else why = "connecting to " + target + " failed: " + std::strerror(err);
  return fail(std::move(r), cause, why);
}

}  // namespace edge::trace
