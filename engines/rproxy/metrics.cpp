// Prometheus text rendering of the rproxy counters.
#include "engines/rproxy/metrics.h"

#include <fmt/format.h>

#include "core/run/metrics_server.h"

namespace edge::rproxy {

namespace {

// Label values escape backslash, quote and newline (the exposition format's rule).
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void head(std::string& out, const char* name, const char* type, const char* help) { run::metric_head(out, name, type, help); }

}  // namespace

Metrics::Metrics(size_t backends) : per_(new PerBackend[backends + 1]), backends_(backends) {}

void Metrics::request(int backend, unsigned status, double seconds) {
  if (status >= 100 && status < 600) {
    PerBackend& p = per_[backend < 0 || size_t(backend) >= backends_ ? backends_ : size_t(backend)];
    p.by_class[status / 100 - 1].fetch_add(1, std::memory_order_relaxed);
  }
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(uint64_t(seconds * 1e6), std::memory_order_relaxed);
}

void Metrics::bytes(uint64_t to_client, uint64_t to_backend) {
  to_client_.fetch_add(to_client, std::memory_order_relaxed);
  to_backend_.fetch_add(to_backend, std::memory_order_relaxed);
}

std::string Metrics::text(const std::vector<BackendView>& backends, unsigned active_connections) const {
  std::string out;
  head(out, "edge_rproxy_requests_total", "counter", "Requests answered, by backend and status class.");
  for (size_t b = 0; b <= backends_; ++b) {
    const std::string name = b < backends_ && b < backends.size() ? label(backends[b].name) : "-";
    for (size_t c = 0; c < 5; ++c)
      out += fmt::format("edge_rproxy_requests_total{{backend=\"{}\",code=\"{}xx\"}} {}\n", name, c + 1, per_[b].by_class[c].load(std::memory_order_relaxed));
  }
  head(out, "edge_rproxy_request_duration_seconds", "histogram", "Time from the request head to the end of the response.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("edge_rproxy_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[i], cumulative);
  }
  cumulative += buckets_.back().load(std::memory_order_relaxed);
  out += fmt::format("edge_rproxy_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("edge_rproxy_request_duration_seconds_sum {:.6f}\n", double(sum_us_.load(std::memory_order_relaxed)) / 1e6);
  out += fmt::format("edge_rproxy_request_duration_seconds_count {}\n", count_.load(std::memory_order_relaxed));
  head(out, "edge_rproxy_connections_active", "gauge", "Client connections open now.");
  out += fmt::format("edge_rproxy_connections_active {}\n", active_connections);
  head(out, "edge_rproxy_connections_total", "counter", "Client connections accepted.");
  out += fmt::format("edge_rproxy_connections_total {}\n", connections_.load(std::memory_order_relaxed));
  head(out, "edge_rproxy_tls_handshake_failures_total", "counter", "Client TLS handshakes that failed.");
  out += fmt::format("edge_rproxy_tls_handshake_failures_total {}\n", tls_failures_.load(std::memory_order_relaxed));
  head(out, "edge_rproxy_bytes_total", "counter", "Body bytes relayed, by direction.");
  out += fmt::format("edge_rproxy_bytes_total{{direction=\"to_client\"}} {}\n", to_client_.load(std::memory_order_relaxed));
  out += fmt::format("edge_rproxy_bytes_total{{direction=\"to_backend\"}} {}\n", to_backend_.load(std::memory_order_relaxed));
  head(out, "edge_rproxy_backend_up", "gauge", "1 when the backend takes requests (not ejected, health check passing).");
  for (const auto& b : backends) out += fmt::format("edge_rproxy_backend_up{{backend=\"{}\"}} {}\n", label(b.name), b.up ? 1 : 0);
  head(out, "edge_rproxy_backend_active", "gauge", "Requests or connections in flight to the backend.");
  for (const auto& b : backends) out += fmt::format("edge_rproxy_backend_active{{backend=\"{}\"}} {}\n", label(b.name), b.active);
  head(out, "edge_rproxy_backend_ejections_total", "counter", "Times the backend was ejected after failures in a row.");
  for (const auto& b : backends) out += fmt::format("edge_rproxy_backend_ejections_total{{backend=\"{}\"}} {}\n", label(b.name), b.ejections);
  head(out, "edge_rproxy_backend_recoveries_total", "counter", "Times an ejected backend answered again.");
  for (const auto& b : backends) out += fmt::format("edge_rproxy_backend_recoveries_total{{backend=\"{}\"}} {}\n", label(b.name), b.recoveries);
  return out;
}

}  // namespace edge::rproxy
