// What the user engine's forwarders share (engines/nat/user_forwarder.h).
#include "engines/nat/user_forwarder.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

namespace edge::nat {

uint16_t target_port(const DnatRule& r, uint16_t listen_port) {
  if (!r.to_ports) return listen_port;
  if (r.to_ports->lo() == r.to_ports->hi()) return r.to_ports->lo();
  return uint16_t(r.to_ports->lo() + (listen_port - r.port.lo()));  // cmd/nat.cpp checked the sizes match
}

std::string listen_host(const DnatRule& r) {
  if (r.listen_addr) return r.listen_addr->str();
  if (r.families == Families::v4) return "0.0.0.0";
  const int probe = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return "0.0.0.0";  // no IPv6 on this host
  ::close(probe);
  return "::";
}

std::string target_text(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Forwarder::Forwarder(boost::asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port)
    : ctx_(ctx),
      sh_(sh),
      target_(target),
      port_(port),
      to_port_(target_port(rule, port)),
      name_(std::string(proto_name(rule.proto)) + " " + std::to_string(port)),
      to_name_(target_text(target.host, to_port_)) {}

Shared::Shared(const Options& opts) : o(opts), flows("edge:nat:" + std::to_string(getpid())), budget(opts.max_flows) {}

void Shared::report(const std::string& what) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_report_ < std::chrono::seconds(1)) {
    ++unsaid_;
    return;
  }
  last_report_ = now;
  if (unsaid_) std::fprintf(stderr, "edge nat: %s (and %llu more failures)\n", what.c_str(), static_cast<unsigned long long>(unsaid_));
  else std::fprintf(stderr, "edge nat: %s\n", what.c_str());
  unsaid_ = 0;
}

Sample Shared::sample() const {
  Sample s;
  s.flows_now = budget.now();
  s.flows_total = budget.total();
  s.bytes_total = bytes.load(std::memory_order_relaxed);
  s.refused_total = budget.refused();
  return s;
}

}  // namespace edge::nat
