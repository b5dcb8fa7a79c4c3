// Prometheus text of the forward proxy's counters (engines/proxy/metrics.h).
#include "engines/proxy/metrics.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/run/metrics_server.h"
#include "engines/proxy/access_log.h"

namespace edge::proxy {

void Metrics::record(const Record& r) {
  const auto p = std::find(kProtocols.begin(), kProtocols.end(), r.protocol);
  if (p != kProtocols.end()) {
    const size_t cls = r.status >= 100 && r.status < 600 ? r.status / 100 : 0;
    requests_[size_t(p - kProtocols.begin())][cls].fetch_add(1, std::memory_order_relaxed);
  }
  if (r.denied) {
    const auto rule = std::find(kRules.begin(), kRules.end() - 1, r.rule);
    denials_[size_t(rule - kRules.begin())].fetch_add(1, std::memory_order_relaxed);
  }
  up_.fetch_add(r.bytes_up, std::memory_order_relaxed);
  down_.fetch_add(r.bytes_down, std::memory_order_relaxed);
}

std::string Metrics::text(unsigned active_connections) const {
  std::string out;
  run::metric_head(out, "edge_proxy_requests_total", "counter",
                   "Requests (http), tunnels (connect, socks5) and refused handshakes (socks4), by status class; code=\"none\": no response");
  for (size_t p = 0; p < kProtocols.size(); ++p)
    for (size_t c = 0; c < 6; ++c)
      out += fmt::format("edge_proxy_requests_total{{protocol=\"{}\",code=\"{}\"}} {}\n", kProtocols[p], c ? fmt::format("{}xx", c) : "none",
                         requests_[p][c].load(std::memory_order_relaxed));
  run::metric_head(out, "edge_proxy_denials_total", "counter", "Requests and tunnels refused, by the rule that refused them");
  for (size_t i = 0; i < kRules.size(); ++i)
    out += fmt::format("edge_proxy_denials_total{{rule=\"{}\"}} {}\n", kRules[i], denials_[i].load(std::memory_order_relaxed));
  run::metric_head(out, "edge_proxy_bytes_total", "counter", "Body and tunnel bytes carried");
  out += fmt::format("edge_proxy_bytes_total{{direction=\"to_origin\"}} {}\n", up_.load(std::memory_order_relaxed));
  out += fmt::format("edge_proxy_bytes_total{{direction=\"to_client\"}} {}\n", down_.load(std::memory_order_relaxed));
  run::metric_head(out, "edge_proxy_connections_total", "counter", "Client connections accepted");
  out += fmt::format("edge_proxy_connections_total {}\n", connections_.load(std::memory_order_relaxed));
  run::metric_head(out, "edge_proxy_connections_active", "gauge", "Client connections open now");
  out += fmt::format("edge_proxy_connections_active {}\n", active_connections);
  return out;
}

}  // namespace edge::proxy
