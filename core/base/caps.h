// Whether this process holds a capability in its effective set, read from /proc/self/status
// (no libcap): commands decide up front what they can do instead of failing half way.
#pragma once

namespace edge {

// CAP_NET_ADMIN: nftables, ctnetlink, sysctls under /proc/sys/net.
bool has_net_admin();

}  // namespace edge
