// The far side of a proxied connection: dialing a destination (its addresses tried in order,
// optional TLS with SNI and verification), the connection with its read buffer and flow tuple,
// and a per-thread keepalive pool of such connections. Shared by every proxy on the core
// runtime; what the slots of the pool mean (a backend, a destination) is the caller's.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/base/duration.h"
#include "core/flow/flow.h"
#include "core/flow/proxy_error.h"
#include "core/net/addr.h"
#include "core/net/stream.h"

namespace edge {

IpAddr to_ipaddr(const boost::asio::ip::address& a);  // IPv4-mapped IPv6 becomes IPv4
boost::asio::ip::address to_asio(const IpAddr& a);

struct Upstream {
  using Clock = std::chrono::steady_clock;
  Stream stream;
  boost::beast::flat_buffer buffer;
  Tuple reply;  // destination -> our address toward it: the translation a proxy does
  Clock::time_point idle_since;  // when it went back to the pool
  explicit Upstream(boost::asio::ip::tcp::socket s);
};

struct DialTarget {
  std::span<const IpAddr> addresses;  // tried in order; none: destination_not_found
  uint16_t port = 0;
  std::string_view name;              // "backend:8080": for messages
  std::string_view tls_host;          // SNI and the name the certificate must carry
  boost::asio::ssl::context* tls = nullptr;  // null: plain TCP
  bool verify = true;
  Millis timeout{3000};               // each connect, and the TLS handshake
  std::optional<IpAddr> source;       // bind the outgoing socket to this address (port 0) first
};

// A connected (and, with tls, handshaken) upstream, or the failure of the last address tried:
// 504 connection_timeout, 502 connection_refused / destination_unavailable / tls_*.
boost::asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> dial(DialTarget t);

// Idle upstream connections of one thread, in numbered slots. A connection the far side closed
// while idle is noticed (peek reads EOF) and dropped instead of reused.
class UpstreamPool {
 public:
  explicit UpstreamPool(unsigned keep_per_slot) : keep_(keep_per_slot) {}
  std::unique_ptr<Upstream> take(size_t slot);
  void put(size_t slot, std::unique_ptr<Upstream> u);
  unsigned keep() const { return keep_; }

 private:
  std::vector<std::vector<std::unique_ptr<Upstream>>> idle_;
  unsigned keep_;
};

}  // namespace edge
