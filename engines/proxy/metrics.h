// Prometheus metrics of `edge proxy` (--metrics): requests and tunnels by protocol and status
// class, denials by rule, bytes each way, connections; relaxed atomics bumped when a record is
// logged (no lock, no allocation), rendered when scraped.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace edge::proxy {

struct Record;

class Metrics {
 public:
  // The rules a denial can name (core/policy/egress.h, and "auth" for credentials), in the
  // order they are shown.
  static constexpr std::array<std::string_view, 15> kRules{"source", "auth", "connect-port", "http-port", "bad-name", "deny-domain", "deny-dst",
                                                           "not-allowlisted", "metadata", "loopback", "unspecified", "link-local", "private",
                                                           "multicast", "other"};
  static constexpr std::array<std::string_view, 4> kProtocols{"http", "connect", "socks5", "socks4"};

  void record(const Record& r);
  void connection() { connections_.fetch_add(1, std::memory_order_relaxed); }
  std::string text(unsigned active_connections) const;

 private:
  // [protocol][class]: class 0 = no response, 1..5 = 1xx..5xx
  std::array<std::array<std::atomic<uint64_t>, 6>, kProtocols.size()> requests_{};
  std::array<std::atomic<uint64_t>, kRules.size()> denials_{};
  std::atomic<uint64_t> up_{0}, down_{0}, connections_{0};
};

}  // namespace edge::proxy
