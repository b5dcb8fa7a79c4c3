// The tcp layer of `edge trace` (and the proxy layer's own connect): a non-blocking connect
// with a deadline whose failure is explained by SO_ERROR, the IP_RECVERR error queue (which
// ICMP, from which box), a capture of the egress interface (did the SYN leave?) and this
// host's conntrack drop counter (was the table full?).
#pragma once
#include <memory>
#include <optional>

#include "core/base/duration.h"
#include "core/net/addr.h"
#include "core/trace/layer.h"
#include "core/trace/route_probe.h"
#include "core/trace/stream.h"

namespace edge::trace {

// On success `out` holds the connected stream. `route` (may be null) names the egress
// interface for the capture.
// mss > 0 clamps the maximum segment size (the --mtu retry).
LayerResult probe_tcp(const std::string& layer_name, const IpAddr& addr, uint16_t port, const RouteInfo* route,
                      Millis timeout, std::unique_ptr<Stream>& out, int mss = 0);

}  // namespace edge::trace
