// `edge nat --engine user`: the rootless port-forwarder. Resolves every --to once, binds every
// listened port (a port in use stops the start, naming its holder), serves the flow table on
// the control socket, prints the status every --interval, and on SIGINT/SIGTERM closes every
// listener and flow and exits 0. One thread: the relay's splice keeps bytes out of user space,
// and the UDP session table needs no lock.
#include <signal.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "core/base/errors.h"
#include "core/control/control.h"
#include "core/net/resolve.h"
#include "engines/nat/user_forwarder.h"
#include "engines/nat/status.h"

namespace edge::nat {
namespace asio = boost::asio;

namespace {

constexpr Millis kResolveTimeout{5000};

// --to's addresses (of --to-source's family when it is given), or a start that ends here.
Target resolve_target(const DnatRule& r) {
  Target t;
  t.host = r.to_host;
  t.source = r.to_source;
  for (const IpAddr& a : resolve_host(r.to_host, kResolveTimeout).addresses)
    if (!r.to_source || a.family() == r.to_source->family()) t.addresses.push_back(a);
  if (t.addresses.empty()) {
    if (r.to_source) throw Fatal(Exit::failed, "--to " + r.to_host + ": no address of --to-source " + r.to_source->str() + "'s family");
    throw Fatal(Exit::failed, "--to " + r.to_host + ": the name does not resolve");
  }
  return t;
}

asio::awaitable<void> status_loop(const Options& o, Shared& sh, StatusPrinter& printer, asio::steady_timer& timer) {
  while (true) {
    timer.expires_after(o.interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    printer.print(sh.sample());
  }
}

}  // namespace

int run_user(const Options& o) {
  // Declared before the io_context: coroutine frames destroyed with it remove their flows and
  // give back their slots here. The forwarders, declared after it, go first.
  Shared sh(o);
  StatusPrinter printer(o.json, "user");
  std::vector<Target> targets;
  targets.reserve(o.dnat.size());
  for (const DnatRule& r : o.dnat) targets.push_back(resolve_target(r));

  asio::io_context ctx(1);
  asio::signal_set signals(ctx, SIGINT, SIGTERM);  // before the ports open: a stop is always clean
  asio::steady_timer status_timer(ctx);
  std::vector<std::unique_ptr<Forwarder>> forwarders;  // one per listened port
  for (size_t i = 0; i < o.dnat.size(); ++i) {
    const DnatRule& r = o.dnat[i];
    for (unsigned port = r.port.lo(); port <= r.port.hi(); ++port) {
      if (r.proto == Proto::tcp) forwarders.push_back(tcp_forwarder(ctx, sh, r, targets[i], uint16_t(port)));
      else forwarders.push_back(udp_forwarder(ctx, sh, r, targets[i], uint16_t(port)));
    }
  }
  // `edge nat status` reads this instance's status here (from the control socket's thread: the
  // sample is atomics only).
  const auto since = std::chrono::system_clock::now();
  ControlServer control(sh.flows, "nat", [&o, &sh, since] { return status_json(o, "user", since, sh.sample(), ""); });
  if (!control.error().empty())
    std::fprintf(stderr, "edge nat: no control socket (%s): edge conntrack and edge nat status will not see this instance\n",
                 control.error().c_str());

  for (const DnatRule& r : o.dnat) std::fprintf(stderr, "edge nat: user engine: %s\n", describe(r).c_str());
  std::fprintf(stderr, "edge nat: user engine: UDP sessions end after %s without a datagram (--udp-timeout); at most %u flows at once (--max-flows)\n",
               format_duration(o.udp_timeout).c_str(), o.max_flows);

  for (auto& f : forwarders) f->start();
  asio::co_spawn(ctx, status_loop(o, sh, printer, status_timer), asio::detached);

  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    for (auto& f : forwarders) f->stop();
    status_timer.cancel();
    ctx.stop();  // connections in flight close as their coroutines are destroyed with ctx
  });
  ctx.run();
  printer.finish();
  std::fprintf(stderr, "edge nat: stopped: %llu flows forwarded, %llu refused\n", static_cast<unsigned long long>(sh.budget.total()),
               static_cast<unsigned long long>(sh.budget.refused()));
  return 0;
}

}  // namespace edge::nat
