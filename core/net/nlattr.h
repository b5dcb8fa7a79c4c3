// Walking netlink attributes from C++: libmnl's mnl_attr_for_each macros rely on C's implicit
// void* conversions, so this does the same walk with explicit casts and bounds checks.
#pragma once
#include <libmnl/libmnl.h>

namespace edge {

template <class F>
void for_each_attr(const void* payload, size_t len, F&& f) {
  auto* a = static_cast<const nlattr*>(payload);
  int remaining = int(len);
  while (mnl_attr_ok(a, remaining)) {
    f(a);
    remaining -= int(MNL_ALIGN(a->nla_len));
    a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) + MNL_ALIGN(a->nla_len));
  }
}

// The attributes of a message after its fixed header of `header_len` bytes.
template <class F>
void for_each_msg_attr(const nlmsghdr* nlh, size_t header_len, F&& f) {
  const size_t skip = MNL_ALIGN(header_len);
  for_each_attr(static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + skip, mnl_nlmsg_get_payload_len(nlh) - skip, f);
}

}  // namespace edge
