// The route layer of `edge trace`: the kernel's route for the address (rtnetlink RTM_GETROUTE:
// egress interface, gateway, source address, route type) and the next hop's neighbour state,
// resolving it (bounded) when there is no entry yet.
#pragma once
#include <optional>
#include <string>

#include "core/base/duration.h"
#include "core/net/addr.h"
#include "core/trace/layer.h"

namespace edge::trace {

struct RouteInfo {
  std::string interface;
  int ifindex = 0;
  std::optional<IpAddr> gateway;
  std::optional<IpAddr> source;
  bool local = false;  // the address is this host's own (loopback path)
};

LayerResult probe_route(const IpAddr& dst, Millis timeout, RouteInfo& out);

}  // namespace edge::trace
