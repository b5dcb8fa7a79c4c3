// The backend pool of `edge rproxy`: addresses resolved at start, the balancing choice, and
// passive health (a backend that fails N times in a row is ejected for a back-off). Shared by
// every thread; lock-free counters.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/duration.h"

#include "core/net/addr.h"
#include "engines/rproxy/options.h"

namespace edge::rproxy {

struct Backend {
  std::string name;  // as given: host:port
  std::string host;
  uint16_t port = 0;
  // Swapped whole when the name is re-resolved; readers take a snapshot. Empty: the name
  // did not resolve (a down backend).
  std::atomic<std::shared_ptr<const std::vector<IpAddr>>> addresses;
  std::atomic<bool> check_ok{true};  // the last active health check passed (or none is configured)
  std::atomic<int> active{0};
  std::atomic<unsigned> failures{0};
  std::atomic<int64_t> down_until{0};  // steady_clock ticks
  std::atomic<bool> ejected{false};     // ejected and not yet seen working again
  std::atomic<uint64_t> ejections{0}, recoveries{0};
  std::chrono::steady_clock::time_point next_resolve;  // the resolver thread's alone
};

class BackendSet {
 public:
  BackendSet(const Options& o);
  size_t size() const { return backends_.size(); }
  Backend& at(size_t i) { return *backends_[i]; }

  // The order to try backends in for one request: the balancer's choice first, then the
  // other healthy ones (for a retry when a connect is refused). When none is healthy, every
  // backend whose name resolves, all the same (as nginx and HAProxy do): a backend that comes
  // back is served at once, not after its ejection ends. Empty: no name resolves.
  // Written into `out` (cleared first), whose capacity the caller reuses.
  void plan(const IpAddr& client, std::vector<size_t>& out);
  // A response, or a TCP connect: ends the failure count; an ejected backend is back (said on
  // stderr, counted).
  void succeeded(Backend& b);
  // `cause` (a Proxy-Status error token) is what the stderr line names when this failure
  // ejects the backend.
  void failed(Backend& b, std::string_view cause);
  bool healthy(const Backend& b) const;
  // Resolves again the backend names that are due: at their records' TTL (at least every
  // --health-interval; a name that did not resolve, every 2 s). Literal addresses never are.
  // Returns when the next one is due.
  // Stops early once `stop` is set (shutdown must not wait on a slow resolver).
  std::chrono::steady_clock::time_point resolve_due(std::chrono::steady_clock::time_point now, const std::atomic<bool>& stop);

 private:
  std::vector<std::unique_ptr<Backend>> backends_;
  Balance balance_;
  unsigned threshold_;
  std::chrono::steady_clock::duration eject_for_;
  std::chrono::steady_clock::duration refresh_;  // --health-interval
  std::atomic<uint64_t> next_{0};
};

}  // namespace edge::rproxy
