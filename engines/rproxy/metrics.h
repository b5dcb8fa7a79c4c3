// Prometheus metrics of `edge rproxy` (--metrics): counters bumped on the request path with
// relaxed atomics (no lock, no allocation), rendered as Prometheus text format 0.0.4 when
// scraped.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace edge::rproxy {

// What the scrape shows of each backend right now.
struct BackendView {
  std::string name;
  bool up = true;
  int active = 0;
  uint64_t ejections = 0, recoveries = 0;  // passive health: times ejected, times back
};

class Metrics {
 public:
  // Latency buckets (seconds), as Prometheus client libraries default them.
  static constexpr std::array<double, 11> kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  explicit Metrics(size_t backends);
  // backend: index into the pool, or -1 when none was chosen (a refused request, 503).
  // status 0 (the client left before any response) is counted in no status class.
  void request(int backend, unsigned status, double seconds);
  void bytes(uint64_t to_client, uint64_t to_backend);
  void connection() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void tls_failure() { tls_failures_.fetch_add(1, std::memory_order_relaxed); }

  std::string text(const std::vector<BackendView>& backends, unsigned active_connections) const;

 private:
  struct PerBackend {
    std::array<std::atomic<uint64_t>, 5> by_class{};  // 1xx..5xx
  };
  std::unique_ptr<PerBackend[]> per_;  // backends + 1: the last is "no backend"
  size_t backends_;
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets_{};  // the last: +Inf only
  std::atomic<uint64_t> count_{0}, sum_us_{0};
  std::atomic<uint64_t> to_client_{0}, to_backend_{0}, connections_{0}, tls_failures_{0};
};

}  // namespace edge::rproxy
