// One non-blocking connect per TTL; the error queue names the router that dropped it.
#include "core/trace/hops.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/base/fd.h"
#include "core/net/errqueue.h"

namespace edge::trace {

std::vector<Hop> tcp_hops(const IpAddr& dst, uint16_t port, int max_hops, int max_silent, Millis per_hop) {
  std::vector<Hop> hops;
  const bool v6 = dst.family() == Family::v6;
  int silent = 0;
  for (int ttl = 1; ttl <= max_hops && silent < max_silent; ++ttl) {
    Hop h;
    h.ttl = ttl;
    UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) break;
    enable_recverr(fd.get(), v6);
    if (v6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
    else setsockopt(fd.get(), IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
      s->sin6_family = AF_INET6;
      s->sin6_port = htons(port);
      std::memcpy(&s->sin6_addr, dst.bytes(), 16);
      len = sizeof *s;
    } else {
      auto* s = reinterpret_cast<sockaddr_in*>(&ss);
      s->sin_family = AF_INET;
      s->sin_port = htons(port);
      std::memcpy(&s->sin_addr, dst.bytes(), 4);
      len = sizeof *s;
    }
    const auto start = std::chrono::steady_clock::now();
    int err = 0;
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) err = errno;
    bool answered = err != 0;
    if (!answered) {
      pollfd p{fd.get(), POLLOUT, 0};
      if (poll(&p, 1, int(per_hop.count())) > 0) {
        socklen_t sl = sizeof err;
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &sl);
        answered = true;
      }
    }
    h.rtt_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!answered) {
      h.what = "no_answer";
      ++silent;
      hops.push_back(h);
      continue;
    }
    silent = 0;
    auto icmp = err ? read_error_queue(fd.get()) : std::nullopt;
    const bool time_exceeded = icmp && ((!icmp->v6 && icmp->type == 11) || (icmp->v6 && icmp->type == 3));
    if (icmp) h.from = icmp->offender;
    if (time_exceeded) {
      h.what = "time_exceeded";
      hops.push_back(h);
      continue;
    }
    if (icmp) {
      h.what = "unreachable";
    } else {
      h.what = "reached";  // SYN-ACK or RST: the target itself answered
      h.from = dst;
    }
    hops.push_back(h);
    break;
  }
  return hops;
}

}  // namespace edge::trace
