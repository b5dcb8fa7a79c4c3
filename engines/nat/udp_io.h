// Datagrams with the local address they were sent to. A UDP listener bound to every address
// learns which of its addresses a client wrote to (IP_PKTINFO, IPV6_RECVPKTINFO) and answers
// from that one: a client accepts replies only from where it sent, and the kernel's own choice
// of source (by route) can be another address of the same host. Plain syscalls, non-blocking.
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

#include "core/net/addr.h"
#include "engines/nat/udp_sessions.h"

namespace edge::nat {

struct PeerAddr {
  sockaddr_storage sa{};
  socklen_t len = 0;
};

struct LocalAddr {
  IpAddr addr;
  unsigned ifindex = 0;
  bool known = false;  // false: the kernel picks the source
};

// Asks for the local address of each datagram (both families on a dual-stack socket).
void want_local_addr(int fd);
// One datagram, without waiting: its size, or -1 with errno (EAGAIN: none queued).
ssize_t recv_datagram(int fd, void* buf, size_t cap, PeerAddr& from, LocalAddr& to);
// Sends from `from` when it is known; -1 with errno.
ssize_t send_datagram(int fd, const void* data, size_t n, const PeerAddr& to, const LocalAddr& from);
// The client as the session table keys it (an IPv4-mapped address becomes IPv4).
ClientAddr client_of(const PeerAddr& p);

}  // namespace edge::nat
