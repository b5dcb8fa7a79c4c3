// What the user engine's TCP and UDP forwarders share: the flow table the control socket
// serves, the --max-flows budget, the byte count for the status line, and where each listened
// port forwards to. One thread runs every forwarder; only the counters are read from others.
#pragma once
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/flow/table.h"
#include "core/net/addr.h"
#include "engines/nat/flow_budget.h"
#include "engines/nat/options.h"
#include "engines/nat/status.h"

namespace edge::nat {

// A TCP connection that moved nothing either way for this long is closed: the kernel's
// conntrack timeout for established TCP (nf_conntrack_tcp_timeout_established, 5 days).
constexpr Millis kTcpIdle = std::chrono::hours(24 * 5);

// Where one rule forwards: --to resolved once at start (only addresses of --to-source's family).
struct Target {
  std::vector<IpAddr> addresses;
  std::string host;                // as given, for messages
  std::optional<IpAddr> source;    // --to-source
};

// The port a listened port forwards to: its own, the one --to port, or its place in the range.
uint16_t target_port(const DnatRule& r, uint16_t listen_port);
// "host:port", "[v6]:port": a target as messages name it.
std::string target_text(const std::string& host, uint16_t port);

// One listened port's forwarder (TCP or UDP). Constructed bound: a port in use ends the start
// there (Fatal, naming its holder).
class Shared;
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  virtual void start() = 0;
  // Closes the listener (a UDP forwarder also ends its sessions); TCP connections in flight
  // end with the io_context.
  virtual void stop() = 0;

 protected:
  Forwarder(boost::asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port);
  boost::asio::io_context& ctx_;
  Shared& sh_;
  const Target& target_;
  uint16_t port_, to_port_;     // listened, and forwarded to
  std::string name_, to_name_;  // "tcp 8080", "backend:80": for messages
};

// The forwarder of one listened port of a rule, bound (or Fatal) on return.
// TCP (engines/nat/tcp_forward.cpp): each accepted connection takes a --max-flows slot (none
// left: closed at once, and counted), connects to the target within --connect-timeout (from
// --to-source when given), then the splice relay carries it both ways.
std::unique_ptr<Forwarder> tcp_forwarder(boost::asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port);
// UDP (engines/nat/udp_forward.cpp): a session per client address, each with its own connected
// socket to the target; see there.
std::unique_ptr<Forwarder> udp_forwarder(boost::asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port);

// The address a rule listens on: --listen ADDR, or every address (dual-stack when the host
// has IPv6, else every IPv4 address).
std::string listen_host(const DnatRule& r);

class Shared {
 public:
  explicit Shared(const Options& o);
  const Options& o;
  FlowTable flows;
  FlowBudget budget;
  std::atomic<uint64_t> bytes{0};

  // A forwarding failure the user should hear of (target refusing, unreachable): one stderr
  // line, at most one a second, with how many were left unsaid.
  void report(const std::string& what);
  Sample sample() const;

 private:
  std::chrono::steady_clock::time_point last_report_{};
  uint64_t unsaid_ = 0;
};

}  // namespace edge::nat
