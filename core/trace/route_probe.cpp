// rtnetlink through libmnl: one RTM_GETROUTE, then RTM_GETNEIGH polls for the next hop.
#include "core/trace/route_probe.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "core/base/fd.h"
#include "core/net/nlattr.h"
#include "core/trace/classify.h"

namespace edge::trace {
namespace {

using Socket = std::unique_ptr<mnl_socket, int (*)(mnl_socket*)>;

Socket open_rtnl() {
  Socket s(mnl_socket_open(NETLINK_ROUTE), mnl_socket_close);
  if (s && mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0) s.reset();
  return s;
}

// Sends one request and runs `cb` over the answer; returns 0 or the kernel's errno.
int request(mnl_socket* s, nlmsghdr* nlh, mnl_cb_t cb, void* data) {
  if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0) return errno;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  const unsigned portid = mnl_socket_get_portid(s);
  while (true) {
    ssize_t n = mnl_socket_recvfrom(s, buf, sizeof buf);
    if (n < 0) return errno;
    int r = mnl_cb_run(buf, size_t(n), nlh->nlmsg_seq, portid, cb, data);
    if (r == MNL_CB_ERROR) return errno;
    if (r == MNL_CB_STOP || r == MNL_CB_OK) return 0;
  }
}

struct RouteReply {
  RouteInfo* info;
  Family family;
  unsigned char type = RTN_UNICAST;
};

int on_route(const nlmsghdr* nlh, void* data) {
  auto* rr = static_cast<RouteReply*>(data);
  auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  rr->type = rtm->rtm_type;
  for_each_msg_attr(nlh, sizeof(rtmsg), [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case RTA_OIF: rr->info->ifindex = int(mnl_attr_get_u32(a)); break;
      case RTA_GATEWAY: rr->info->gateway = IpAddr::from_bytes(rr->family, mnl_attr_get_payload(a)); break;
      case RTA_PREFSRC: rr->info->source = IpAddr::from_bytes(rr->family, mnl_attr_get_payload(a)); break;
      default: break;
    }
  });
  return MNL_CB_STOP;
}

int route_lookup(mnl_socket* s, const IpAddr& dst, RouteInfo& info, unsigned char& type) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = 1;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = dst.family() == Family::v4 ? AF_INET : AF_INET6;
  rtm->rtm_dst_len = dst.family() == Family::v4 ? 32 : 128;
  mnl_attr_put(nlh, RTA_DST, dst.size(), dst.bytes());
  RouteReply rr{&info, dst.family()};
  int err = request(s, nlh, on_route, &rr);
  type = rr.type;
  return err;
}

struct NeighReply {
  uint16_t state = 0;
  bool found = false;
};

int neighbour_state(mnl_socket* s, const IpAddr& addr, int ifindex, NeighReply& out) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  static unsigned seq = 100;
  nlh->nlmsg_seq = ++seq;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = addr.family() == Family::v4 ? AF_INET : AF_INET6;
  ndm->ndm_ifindex = ifindex;
  mnl_attr_put(nlh, NDA_DST, addr.size(), addr.bytes());
  out = {};
  return request(s, nlh,
                 [](const nlmsghdr* m, void* d) -> int {
                   auto* o = static_cast<NeighReply*>(d);
                   auto* nd = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(m));
                   o->state = nd->ndm_state;
                   o->found = true;
                   return MNL_CB_STOP;
                 },
                 &out);
}

const char* nud_name(uint16_t s) {
  if (s & NUD_REACHABLE) return "REACHABLE";
  if (s & NUD_STALE) return "STALE";
  if (s & NUD_DELAY) return "DELAY";
  if (s & NUD_PROBE) return "PROBE";
  if (s & NUD_FAILED) return "FAILED";
  if (s & NUD_INCOMPLETE) return "INCOMPLETE";
  if (s & NUD_PERMANENT) return "PERMANENT";
  if (s & NUD_NOARP) return "NOARP";
  return "NONE";
}

// Makes the kernel resolve the next hop: one datagram to the discard port of the next hop.
void trigger_resolution(const IpAddr& hop) {
  UniqueFd fd(socket(hop.family() == Family::v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return;
  sockaddr_storage ss{};
  socklen_t len;
  if (hop.family() == Family::v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(9);
    std::memcpy(&sin->sin_addr, hop.bytes(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(9);
    std::memcpy(&sin6->sin6_addr, hop.bytes(), 16);
    len = sizeof *sin6;
  }
  sendto(fd.get(), "", 0, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), len);
}

const char* route_type_name(int err) {
  switch (err) {
    case ENETUNREACH: return "no route";
    case EHOSTUNREACH: return "an 'unreachable' route";
    case EACCES: return "a 'prohibit' route";
    case EINVAL: return "a 'blackhole' route";
    default: return "route lookup failed";
  }
}

}  // namespace

LayerResult probe_route(const IpAddr& dst, Millis timeout, RouteInfo& out) {
  LayerClock clock;
  LayerResult r;
  r.name = "route";
  r.evidence["destination"] = dst.str();
  Socket s = open_rtnl();
  if (!s) {
    r.status = Status::skipped;
    r.summary = std::string("rtnetlink unavailable: ") + std::strerror(errno);
    return r;
  }
  unsigned char type = RTN_UNICAST;
  int err = route_lookup(s.get(), dst, out, type);
  r.duration_ms = clock.elapsed_ms();
  if (err) {
    r.evidence["error"] = std::strerror(err);
    std::string cause(classify_route(err, false));
    return fail(std::move(r), cause, std::string(route_type_name(err)) + " to " + dst.str() + " (" + std::strerror(err) + ")");
  }
  char name[IF_NAMESIZE] = "";
  if (out.ifindex && if_indextoname(unsigned(out.ifindex), name)) out.interface = name;
  out.local = type == RTN_LOCAL;
  r.evidence["interface"] = out.interface;
  r.evidence["gateway"] = out.gateway ? boost::json::value(out.gateway->str()) : boost::json::value(nullptr);
  r.evidence["source"] = out.source ? boost::json::value(out.source->str()) : boost::json::value(nullptr);
  r.evidence["type"] = out.local ? "local" : "unicast";
  r.summary = dst.str() + (out.gateway ? " via " + out.gateway->str() : "") + " dev " + out.interface +
              (out.source ? " src " + out.source->str() : "");
  if (out.local || out.interface == "lo") {
    r.status = Status::ok;
    r.summary += " (local)";
    return r;
  }

  // The next hop must answer ARP/ND, or every packet dies on this link.
  const IpAddr hop = out.gateway ? *out.gateway : dst;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  NeighReply n;
  bool triggered = false;
  std::string state = "NONE";
  while (true) {
    const int nerr = neighbour_state(s.get(), hop, out.ifindex, n);
    state = n.found ? nud_name(n.state) : "NONE";
    const bool usable = n.found && (n.state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP));
    if (usable) break;
    if (n.found && (n.state & NUD_FAILED) && triggered) break;
    if (!triggered || (n.found && (n.state & NUD_FAILED))) {
      trigger_resolution(hop);
      triggered = true;
    }
    (void)nerr;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  r.duration_ms = clock.elapsed_ms();
  r.evidence["next_hop"] = hop.str();
  r.evidence["neighbour"] = state;
  const bool ok = n.found && (n.state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP));
  if (!ok)
    return fail(std::move(r), "gateway_unreachable",
                std::string(out.gateway ? "gateway " : "neighbour ") + hop.str() + " on " + out.interface +
                    " does not answer " + (hop.family() == Family::v4 ? "ARP" : "neighbour discovery") + " (" + state + ")");
  r.status = Status::ok;
  r.summary += " (" + std::string(out.gateway ? "gateway " : "neighbour ") + state + ")";
  return r;
}

}  // namespace edge::trace
