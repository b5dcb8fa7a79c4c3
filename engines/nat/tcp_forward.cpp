// The user engine's TCP forwarder for one listened port (engines/nat/user_forwarder.h): each
// accepted connection takes a --max-flows slot (none left: it is closed at once, and counted),
// connects to the target within --connect-timeout (from --to-source when given), then the
// splice relay carries it both ways. The connection is a flow in the table for as long as it
// lives.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/net/relay.h"
#include "core/net/upstream.h"
#include "core/run/runtime.h"
#include "engines/nat/user_forwarder.h"

namespace edge::nat {
namespace asio = boost::asio;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

Endpoint listen_endpoint(const DnatRule& rule, uint16_t port) {
  auto ep = Endpoint::parse(target_text(listen_host(rule), port));
  return *ep;  // an address literal and a port: always parses
}

class TcpForwarder final : public Forwarder {
 public:
  using tcp = boost::asio::ip::tcp;
  TcpForwarder(boost::asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port);
  void start() override;
  void stop() override;

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(tcp::socket client, [[maybe_unused]] FlowSlot slot);

  tcp::acceptor acceptor_;
};

TcpForwarder::TcpForwarder(asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port)
    : Forwarder(ctx, sh, rule, target, port),
      acceptor_(run::listen_on(ctx, listen_endpoint(rule, port), "--listen", "", false, false)) {}

void TcpForwarder::start() { asio::co_spawn(ctx_, accept_loop(), asio::detached); }

void TcpForwarder::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> TcpForwarder::accept_loop() {
  while (true) {
    auto [ec, sock] = co_await acceptor_.async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of descriptors (EMFILE/ENFILE) and the like: back off instead of spinning.
      asio::steady_timer pause(ctx_, std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    FlowSlot slot(sh_.budget);
    if (!slot) continue;  // --max-flows reached: the connection closes here, counted as refused
    asio::co_spawn(ctx_, serve(std::move(sock), std::move(slot)), asio::detached);
  }
}

asio::awaitable<void> TcpForwarder::serve(tcp::socket client, [[maybe_unused]] FlowSlot slot) {
  boost::system::error_code ec;
  client.set_option(tcp::no_delay(true), ec);
  FlowHandle flow(sh_.flows, run::accepted_flow(client, kTcpIdle));
  DialTarget t;
  t.addresses = target_.addresses;
  t.port = to_port_;
  t.name = to_name_;
  t.timeout = sh_.o.connect_timeout;
  t.source = target_.source;
  auto dialed = co_await dial(t);
  if (!dialed.first) {
    sh_.report(name_ + ": " + dialed.second.detail);
    co_return;  // the client sees its connection close
  }
  Upstream& up = *dialed.first;
  run::set_upstream(flow, up.reply);
  const RelayBytes moved = co_await relay(client, up.stream.socket(), kTcpIdle);
  sh_.bytes.fetch_add(moved.a_to_b + moved.b_to_a, std::memory_order_relaxed);
}

}  // namespace

std::unique_ptr<Forwarder> tcp_forwarder(asio::io_context& ctx, Shared& sh, const DnatRule& rule, const Target& target, uint16_t port) {
  return std::make_unique<TcpForwarder>(ctx, sh, rule, target, port);
}

}  // namespace edge::nat
