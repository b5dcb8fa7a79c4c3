// Datagrams with their local address (engines/nat/udp_io.h).
#include "engines/nat/udp_io.h"

#include <netinet/in.h>

#include <cstring>

namespace edge::nat {
namespace {

constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

IpAddr from_v6_bytes(const uint8_t* b) {
  if (std::memcmp(b, kMapped, sizeof kMapped) == 0) return IpAddr::from_bytes(Family::v4, b + 12);
  return IpAddr::from_bytes(Family::v6, b);
}

}  // namespace

void want_local_addr(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);  // fails harmlessly on IPv4 sockets
}

ssize_t recv_datagram(int fd, void* buf, size_t cap, PeerAddr& from, LocalAddr& to) {
  iovec iov{buf, cap};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo))];
  msghdr msg{};
  msg.msg_name = &from.sa;
  msg.msg_namelen = sizeof from.sa;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return n;
  from.len = msg.msg_namelen;
  to.known = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      to = {IpAddr::from_bytes(Family::v4, &info.ipi_spec_dst), 0, true};
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      to = {from_v6_bytes(info.ipi6_addr.s6_addr), unsigned(info.ipi6_ifindex), true};
    }
  }
  return n;
}

ssize_t send_datagram(int fd, const void* data, size_t n, const PeerAddr& to, const LocalAddr& from) {
  iovec iov{const_cast<void*>(data), n};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_storage*>(&to.sa);
  msg.msg_namelen = to.len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (from.known) {
    msg.msg_control = control;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
    if (from.addr.family() == Family::v4) {
      // Also on a dual-stack socket answering an IPv4-mapped client (the kernel allows it).
      in_pktinfo info{};
      std::memcpy(&info.ipi_spec_dst, from.addr.bytes(), 4);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof info);
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
      msg.msg_controllen = CMSG_SPACE(sizeof info);
    } else {
      in6_pktinfo info{};
      std::memcpy(info.ipi6_addr.s6_addr, from.addr.bytes(), 16);
      info.ipi6_ifindex = from.ifindex;
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof info);
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
      msg.msg_controllen = CMSG_SPACE(sizeof info);
    }
  }
  return ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

ClientAddr client_of(const PeerAddr& p) {
  if (p.sa.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&p.sa);
    return {IpAddr::from_bytes(Family::v4, &s->sin_addr), ntohs(s->sin_port)};
  }
  const auto* s = reinterpret_cast<const sockaddr_in6*>(&p.sa);
  return {from_v6_bytes(s->sin6_addr.s6_addr), ntohs(s->sin6_port)};
}

}  // namespace edge::nat
