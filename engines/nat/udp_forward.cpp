// The user engine's UDP forwarder for one listened port (engines/nat/user_forwarder.h): a session
// per client address (the session table, engines/nat/udp_sessions.h), each with its own
// connected socket to the target, so replies find their client; replies leave from the
// listening socket and the address the client wrote to. A new client takes a --max-flows slot
// (none left: its datagrams are dropped, each counted as a refusal); a session idle for
// --udp-timeout ends. Each session is a flow in the table, its counters and time left
// refreshed by the sweep.
#include <netinet/in.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/errors.h"
#include "core/net/upstream.h"
#include "core/run/runtime.h"
#include "engines/nat/user_forwarder.h"
#include "engines/nat/udp_io.h"
#include "engines/nat/udp_sessions.h"

namespace edge::nat {
namespace asio = boost::asio;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {
// Datagrams taken per readiness before other work gets a turn.
constexpr int kBatch = 64;
// The largest UDP payload (IPv4: 65535 - 20 - 8 = 65507; IPv6 without jumbograms: 65527).
constexpr size_t kDatagram = 65536;

// Often enough that a session ends within a quarter of its timeout; never busier than 100/s.
Millis sweep_every(Millis idle) { return std::clamp(idle / 4, Millis(10), Millis(1000)); }

class UdpForwarder final : public Forwarder {
 public:
  using udp = boost::asio::ip::udp;
  UdpForwarder(boost::asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port);
  ~UdpForwarder() override;
  void start() override;
  void stop() override;

 private:
  struct Session;
  boost::asio::awaitable<void> receive_loop();
  boost::asio::awaitable<void> reply_loop(std::shared_ptr<Session> s);
  boost::asio::awaitable<void> sweep_loop();
  void forward(const PeerAddr& from, const LocalAddr& to, size_t n);
  Session* open_session(uint64_t id, const ClientAddr& c, const PeerAddr& from, const LocalAddr& to);
  void end_session(uint64_t id);
  void publish(Session& s);

  udp::endpoint to_;
  IpAddr listen_addr_;
  udp::socket listener_;
  boost::asio::steady_timer sweep_timer_;
  UdpSessions table_;
  std::unordered_map<uint64_t, std::shared_ptr<Session>> sessions_;
  std::vector<char> buf_;  // one datagram at a time: every loop of this forwarder runs on one thread
};

struct UdpForwarder::Session {
  explicit Session(asio::io_context& ctx) : up(ctx) {}
  udp::socket up;
  ClientAddr client;
  PeerAddr peer;
  LocalAddr local;
  std::optional<FlowHandle> flow;
  Counters orig, reply;
};

UdpForwarder::UdpForwarder(asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port)
    : Forwarder(ctx, sh, rule, target, port),
      to_(to_asio(target.addresses.front()), to_port_),
      listener_(ctx),
      sweep_timer_(ctx),
      table_(sh.budget, sh.o.udp_timeout),
      buf_(kDatagram) {
  const std::string host = listen_host(rule);
  const auto addr = asio::ip::make_address(host);
  const std::string shown = target_text(host, port);
  boost::system::error_code ec;
  listener_.open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
  // No SO_REUSEADDR: on UDP it would let two programs bind the same port and split its traffic.
  if (!ec) listener_.bind(udp::endpoint(addr, port), ec);
  if (ec) throw run::bind_failure(ec, "--listen", shown + "/udp", port, PortProto::udp);
  listener_.non_blocking(true);
  want_local_addr(listener_.native_handle());
  listen_addr_ = to_ipaddr(addr);
}

UdpForwarder::~UdpForwarder() { stop(); }

void UdpForwarder::start() {
  asio::co_spawn(ctx_, receive_loop(), asio::detached);
  asio::co_spawn(ctx_, sweep_loop(), asio::detached);
}

void UdpForwarder::stop() {
  boost::system::error_code ec;
  listener_.close(ec);
  sweep_timer_.cancel();
  for (auto& [id, s] : sessions_) s->up.close(ec);
  sessions_.clear();
}

asio::awaitable<void> UdpForwarder::receive_loop() {
  while (true) {
    auto [ec] = co_await listener_.async_wait(udp::socket::wait_read, nothrow);
    if (ec || !listener_.is_open()) co_return;
    for (int i = 0; i < kBatch; ++i) {
      PeerAddr from;
      LocalAddr to;
      const ssize_t n = recv_datagram(listener_.native_handle(), buf_.data(), buf_.size(), from, to);
      if (n < 0) break;  // EAGAIN: all taken
      forward(from, to, size_t(n));
    }
  }
}

void UdpForwarder::forward(const PeerAddr& from, const LocalAddr& to, size_t n) {
  const ClientAddr c = client_of(from);
  Session* s = nullptr;
  if (const uint64_t id = table_.touch(c)) {
    s = sessions_.at(id).get();
  } else {
    const uint64_t fresh = table_.open(c);
    if (!fresh) return;  // --max-flows reached: dropped, and the budget counted the refusal
    s = open_session(fresh, c, from, to);
    if (!s) {
      table_.close(c);
      return;
    }
  }
  // Non-blocking: a datagram the socket cannot take now is dropped, as a router would.
  if (::send(s->up.native_handle(), buf_.data(), n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) return;
  ++s->orig.packets;
  s->orig.bytes += n;
  sh_.bytes.fetch_add(n, std::memory_order_relaxed);
  if (s->orig.packets == 1) publish(*s);  // the first datagram shows at once; later ones at the sweep
}

UdpForwarder::Session* UdpForwarder::open_session(uint64_t id, const ClientAddr& c, const PeerAddr& from, const LocalAddr& to) {
  auto s = std::make_shared<Session>(ctx_);
  boost::system::error_code ec;
  s->up.open(to_.protocol(), ec);
  if (!ec && target_.source) s->up.bind(udp::endpoint(to_asio(*target_.source), 0), ec);
  if (!ec) s->up.connect(to_, ec);
  if (!ec) s->up.non_blocking(true, ec);
  if (ec) {
    sh_.report(name_ + ": cannot open a session to " + to_name_ + ": " + ec.message());
    return nullptr;
  }
  s->client = c;
  s->peer = from;
  s->local = to;
  const auto up_local = s->up.local_endpoint(ec);
  Flow f;
  f.proto = IPPROTO_UDP;
  f.orig = {c.addr, to.known ? to.addr : listen_addr_, c.port, port_};
  f.family = f.orig.src.family();
  f.reply = {to_ipaddr(to_.address()), to_ipaddr(up_local.address()), to_.port(), up_local.port()};
  f.timeout = uint32_t(std::chrono::duration_cast<std::chrono::seconds>(table_.idle()).count());
  f.unreplied = true;
  f.orig_counters = Counters{};
  f.reply_counters = Counters{};
  classify_nat(f, std::nullopt);
  s->flow.emplace(sh_.flows, std::move(f));
  sessions_.emplace(id, s);
  asio::co_spawn(ctx_, reply_loop(s), asio::detached);
  return s.get();
}

asio::awaitable<void> UdpForwarder::reply_loop(std::shared_ptr<Session> s) {
  while (true) {
    auto [ec] = co_await s->up.async_wait(udp::socket::wait_read, nothrow);
    if (ec || !s->up.is_open() || !listener_.is_open()) co_return;
    for (int i = 0; i < kBatch; ++i) {
      const ssize_t n = ::recv(s->up.native_handle(), buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n < 0 && errno == ECONNREFUSED) {
        // The target's port is closed (ICMP port unreachable): the session stays, as conntrack's would.
        sh_.report(name_ + ": " + to_name_ + " refused a datagram (nothing listens there)");
        continue;
      }
      if (n < 0) break;
      if (send_datagram(listener_.native_handle(), buf_.data(), size_t(n), s->peer, s->local) < 0) continue;
      table_.touch(s->client);
      ++s->reply.packets;
      s->reply.bytes += uint64_t(n);
      sh_.bytes.fetch_add(uint64_t(n), std::memory_order_relaxed);
      if (s->reply.packets == 1) publish(*s);  // no longer unreplied
    }
  }
}

asio::awaitable<void> UdpForwarder::sweep_loop() {
  const Millis every = sweep_every(table_.idle());
  while (true) {
    sweep_timer_.expires_after(every);
    auto [ec] = co_await sweep_timer_.async_wait(nothrow);
    if (ec || !listener_.is_open()) co_return;
    for (const uint64_t id : table_.expire()) end_session(id);
    for (auto& [id, s] : sessions_) publish(*s);
  }
}

void UdpForwarder::end_session(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  boost::system::error_code ec;
  it->second->up.close(ec);  // its reply loop ends, and with it the session and its flow
  sessions_.erase(it);
}

// What `edge conntrack` shows of a session: counters, time left, whether the target answered.
void UdpForwarder::publish(Session& s) {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(table_.left(s.client) + Millis(999));
  s.flow->update([&](Flow& f) {
    f.orig_counters = s.orig;
    f.reply_counters = s.reply;
    f.timeout = uint32_t(left.count());
    f.unreplied = s.reply.packets == 0;
    f.assured = s.reply.packets > 0 && s.orig.packets > 1;
  });
}

}  // namespace

std::unique_ptr<Forwarder> udp_forwarder(asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port) {
  return std::make_unique<UdpForwarder>(ctx, sh, rule, target, port);
}

}  // namespace edge::nat
