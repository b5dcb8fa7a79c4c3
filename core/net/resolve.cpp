// c-ares ares_getaddrinfo driven by poll (a proxy may hold descriptors past FD_SETSIZE, so no
// select), falling back to getaddrinfo.
#include "core/net/resolve.h"

#include <ares.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>

namespace edge {
namespace {

void add_address(std::vector<IpAddr>& out, const sockaddr* sa) {
  if (sa->sa_family == AF_INET) out.push_back(IpAddr::from_bytes(Family::v4, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr));
  else if (sa->sa_family == AF_INET6) out.push_back(IpAddr::from_bytes(Family::v6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr));
}

Resolution system_resolve(const std::string& host) {
  Resolution r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return r;
  for (addrinfo* a = res; a; a = a->ai_next) add_address(r.addresses, a->ai_addr);
  freeaddrinfo(res);
  return r;
}

struct Query {
  bool done = false;
  int status = ARES_ETIMEOUT;
  Resolution result;
};

void on_addrinfo(void* arg, int status, int, ares_addrinfo* info) {
  auto* q = static_cast<Query*>(arg);
  q->done = true;
  q->status = status;
  if (status != ARES_SUCCESS || !info) return;
  int ttl = -1;
  for (ares_addrinfo_node* n = info->nodes; n; n = n->ai_next) {
    add_address(q->result.addresses, n->ai_addr);
    if (n->ai_ttl > 0) ttl = ttl < 0 ? n->ai_ttl : std::min(ttl, n->ai_ttl);
  }
  if (ttl > 0) q->result.ttl = std::chrono::seconds(ttl);
  ares_freeaddrinfo(info);
}

}  // namespace

Resolution resolve_host(const std::string& host, Millis timeout) {
  if (auto literal = IpAddr::parse(host)) return {{*literal}, std::nullopt};
  static const int init = ares_library_init(ARES_LIB_INIT_ALL);
  ares_channel ch = nullptr;
  ares_options opts{};
  opts.timeout = int(std::min<int64_t>(timeout.count(), 2000));
  opts.tries = 2;
  if (init != ARES_SUCCESS || ares_init_options(&ch, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) return system_resolve(host);
  Query q;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(ch, host.c_str(), nullptr, &hints, on_addrinfo, &q);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!q.done && std::chrono::steady_clock::now() < deadline) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    const int mask = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    int n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short ev = 0;
      if (ARES_GETSOCK_READABLE(mask, i)) ev |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(mask, i)) ev |= POLLOUT;
      if (ev) fds[n++] = {socks[i], ev, 0};
    }
    timeval cap{0, 100 * 1000}, out{};
    const timeval* tv = ares_timeout(ch, &cap, &out);
    poll(fds, nfds_t(n), int(tv->tv_sec * 1000 + tv->tv_usec / 1000) + 1);
    bool any = false;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      any = true;
      ares_process_fd(ch, (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
                      (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
    }
    if (!any) ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts and retries
  }
  const int status = q.status;
  ares_destroy(ch);  // an unfinished query ends here (its callback runs with ARES_EDESTRUCTION)
  // Not found by c-ares: other sources of nsswitch may know the name. A timeout is not asked
  // again (getaddrinfo would wait on the same silent servers, longer).
  if (q.result.addresses.empty() && (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_ENONAME)) return system_resolve(host);
  return q.result;
}

}  // namespace edge
