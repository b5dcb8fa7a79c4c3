// IP_RECVERR control messages: struct sock_extended_err followed by the offender's sockaddr.
#include "core/net/errqueue.h"

#include <ctime>  // linux/errqueue.h needs struct timespec
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace edge {

std::optional<IcmpError> parse_recverr_control(const void* control, size_t len) {
  // Walk cmsghdrs by hand with bounds checks: CMSG_NXTHDR trusts lengths we must not trust here.
  const auto* p = static_cast<const unsigned char*>(control);
  size_t off = 0;
  while (off + sizeof(cmsghdr) <= len) {
    cmsghdr h;
    std::memcpy(&h, p + off, sizeof h);
    if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > len - off) return std::nullopt;
    const bool recverr = (h.cmsg_level == SOL_IP && h.cmsg_type == IP_RECVERR) ||
                         (h.cmsg_level == SOL_IPV6 && h.cmsg_type == IPV6_RECVERR);
    const size_t data_off = off + CMSG_LEN(0);
    const size_t data_len = h.cmsg_len - CMSG_LEN(0);
    if (recverr && data_len >= sizeof(sock_extended_err)) {
      sock_extended_err ee;
      std::memcpy(&ee, p + data_off, sizeof ee);
      if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
        IcmpError e;
        e.v6 = ee.ee_origin == SO_EE_ORIGIN_ICMP6;
        e.type = ee.ee_type;
        e.code = ee.ee_code;
        e.error = int(ee.ee_errno);
        e.info = ee.ee_info;
        // SO_EE_OFFENDER: the sockaddr right after the extended error.
        const size_t sa_off = data_off + sizeof ee;
        const size_t sa_len = data_len - sizeof ee;
        if (sa_len >= sizeof(sockaddr_in)) {
          sa_family_t fam;
          std::memcpy(&fam, p + sa_off, sizeof fam);
          if (fam == AF_INET) {
            sockaddr_in sin;
            std::memcpy(&sin, p + sa_off, sizeof sin);
            e.offender = IpAddr::from_bytes(Family::v4, &sin.sin_addr);
          } else if (fam == AF_INET6 && sa_len >= sizeof(sockaddr_in6)) {
            sockaddr_in6 sin6;
            std::memcpy(&sin6, p + sa_off, sizeof sin6);
            e.offender = IpAddr::from_bytes(Family::v6, &sin6.sin6_addr);
          }
        }
        return e;
      }
    }
    off += CMSG_ALIGN(h.cmsg_len);
  }
  return std::nullopt;
}

bool enable_recverr(int fd, bool v6) {
  int on = 1;
  if (v6) return setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on) == 0;
  return setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof on) == 0;
}

std::optional<IcmpError> read_error_queue(int fd) {
  alignas(cmsghdr) unsigned char control[512];
  char data[256];
  iovec iov{data, sizeof data};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return std::nullopt;
  return parse_recverr_control(control, msg.msg_controllen);
}

}  // namespace edge
