// The user engine's UDP session table: one session per client address (address and port),
// the way conntrack keys a UDP flow, ended after --udp-timeout without a datagram either way.
// New sessions take a slot of the --max-flows budget; when none is left the client is refused.
// No sockets here (the forwarder keeps them by session id) and the clock is injectable, so
// expiry and refusal are tested without waiting.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "core/base/duration.h"
#include "core/net/addr.h"
#include "engines/nat/flow_budget.h"

namespace edge::nat {

struct ClientAddr {
  IpAddr addr;
  uint16_t port = 0;
  friend bool operator==(const ClientAddr&, const ClientAddr&) = default;
};

struct ClientAddrHash {
  size_t operator()(const ClientAddr& c) const;
};

class UdpSessions {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  UdpSessions(FlowBudget& budget, Millis idle, Now now = &Clock::now) : budget_(budget), idle_(idle), now_(std::move(now)) {}

  // The client's session id with its idle time restarted (a datagram either way), or 0.
  uint64_t touch(const ClientAddr& c);
  // A session for a client that has none: its id, or 0 when the budget is spent (the budget
  // counts the refusal).
  uint64_t open(const ClientAddr& c);
  // Ends a session early (its upstream socket could not be made).
  void close(const ClientAddr& c);
  // Ends every session idle for the timeout or longer and gives back their slots: their ids.
  std::vector<uint64_t> expire();
  // How long the client's session has before it expires (0 when it has none).
  Millis left(const ClientAddr& c) const;

  size_t size() const { return sessions_.size(); }
  Millis idle() const { return idle_; }

 private:
  struct Entry {
    uint64_t id;
    Clock::time_point last;
    FlowSlot slot;
  };
  FlowBudget& budget_;
  Millis idle_;
  Now now_;
  std::unordered_map<ClientAddr, Entry, ClientAddrHash> sessions_;
  uint64_t next_id_ = 1;
};

}  // namespace edge::nat
