// Backend resolution, balancing and passive ejection.
#include "engines/rproxy/backends.h"

#include "core/net/deadlines.h"
#include "core/net/resolve.h"

#include <netdb.h>
#include <netinet/in.h>

#include <cstdio>
#include <functional>
#include <random>

namespace edge::rproxy {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Millis kResolveTimeout{2000};

// When a name's answer should be asked for again.
Clock::time_point next_due(const Resolution& r, Clock::time_point now, Clock::duration refresh) {
  if (r.addresses.empty()) return now + std::min<Clock::duration>(refresh, std::chrono::seconds(2));
  if (r.ttl) return now + std::min<Clock::duration>(refresh, std::max<Clock::duration>(*r.ttl, std::chrono::seconds(1)));
  return now + refresh;
}

// Ejection is counted in seconds: the worker's coarse clock serves (no clock read per request).
int64_t now_ticks() { return Deadlines::coarse_now().time_since_epoch().count(); }

}  // namespace

BackendSet::BackendSet(const Options& o)
    : balance_(o.balance), threshold_(o.fail_threshold), eject_for_(o.eject_for), refresh_(o.health_interval) {
  for (const auto& e : o.backends) {
    auto b = std::make_unique<Backend>();
    b->name = e.str();
    b->host = e.host().empty() ? "127.0.0.1" : e.host();
    b->port = e.port();
    auto r = resolve_host(b->host, kResolveTimeout);
    b->next_resolve = next_due(r, Clock::now(), refresh_);
    b->addresses = std::make_shared<const std::vector<IpAddr>>(std::move(r.addresses));
    backends_.push_back(std::move(b));
  }
}

bool BackendSet::healthy(const Backend& b) const {
  return !b.addresses.load()->empty() && b.check_ok.load(std::memory_order_relaxed) &&
         b.down_until.load(std::memory_order_relaxed) <= now_ticks();
}

void BackendSet::plan(const IpAddr& client, std::vector<size_t>& up) {
  up.clear();
  for (size_t i = 0; i < backends_.size(); ++i)
    if (healthy(*backends_[i])) up.push_back(i);
  if (up.empty())
    for (size_t i = 0; i < backends_.size(); ++i)
      if (!backends_[i]->addresses.load()->empty()) up.push_back(i);
  if (up.empty()) return;
  size_t first = 0;
  switch (balance_) {
    case Balance::round_robin: first = next_.fetch_add(1, std::memory_order_relaxed) % up.size(); break;
    case Balance::random: {
      thread_local std::minstd_rand rng{std::random_device{}()};
      first = rng() % up.size();
      break;
    }
    case Balance::least_conn:
      first = size_t(std::min_element(up.begin(), up.end(), [&](size_t a, size_t b) { return backends_[a]->active < backends_[b]->active; }) - up.begin());
      break;
    case Balance::hash_src: first = std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(client.bytes()), client.size())) % up.size(); break;
  }
  std::rotate(up.begin(), up.begin() + long(first), up.end());
}

Clock::time_point BackendSet::resolve_due(Clock::time_point now, const std::atomic<bool>& stop) {
  Clock::time_point next = now + refresh_;
  for (auto& b : backends_) {
    if (stop) break;
    if (IpAddr::parse(b->host)) continue;
    if (b->next_resolve <= now) {
      auto fresh = resolve_host(b->host, kResolveTimeout);
      now = Clock::now();
      b->next_resolve = next_due(fresh, now, refresh_);
      // A failed lookup keeps the last good addresses: a resolver hiccup must not empty the pool.
      if (!fresh.addresses.empty() || b->addresses.load()->empty())
        b->addresses = std::make_shared<const std::vector<IpAddr>>(std::move(fresh.addresses));
    }
    next = std::min(next, b->next_resolve);
  }
  return next;
}

void BackendSet::succeeded(Backend& b) {
  if (b.failures.load(std::memory_order_relaxed)) b.failures.store(0, std::memory_order_relaxed);
  if (b.ejected.load(std::memory_order_relaxed) && b.ejected.exchange(false)) {
    b.down_until.store(0, std::memory_order_relaxed);
    b.recoveries.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr, "edge rproxy: backend %s is back: it answered again\n", b.name.c_str());
  }
}

void BackendSet::failed(Backend& b, std::string_view cause) {
  if (b.failures.fetch_add(1, std::memory_order_relaxed) + 1 >= threshold_) {
    b.down_until.store(now_ticks() + eject_for_.count(), std::memory_order_relaxed);
    b.failures.store(0, std::memory_order_relaxed);
    if (!b.ejected.exchange(true)) {
      b.ejections.fetch_add(1, std::memory_order_relaxed);
      std::fprintf(stderr, "edge rproxy: backend %s ejected for %s after %u failures in a row (the last: %.*s)\n", b.name.c_str(),
                   format_duration(std::chrono::duration_cast<Millis>(eject_for_)).c_str(), threshold_, int(cause.size()), cause.data());
    }
  }
}

}  // namespace edge::rproxy
