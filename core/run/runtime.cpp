// The core runtime (core/run/runtime.h): threads, listeners, the sweep, parking, the drain.
#include "core/run/runtime.h"

#include <malloc.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cstdio>
#include <functional>
#include <thread>

#include "core/base/errors.h"
#include "core/control/control.h"
#include "core/net/port_owner.h"
#include "core/net/upstream.h"

namespace edge::run {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

// A keepalive connection quiet this long is parked: thousands of idle clients then cost little
// within a second. (250 ms parked fewer busy connections under load but left 10,000 idle
// clients at twice the memory: the heap grown meanwhile was not given back.)
constexpr auto kParkAfter = std::chrono::milliseconds(40);

// Every 20 ms: this thread's stream deadlines, timeouts and parking for its waiting
// connections; every 500 ms the parked ones' deadlines. After a burst of parking, freed memory
// goes back to the system (the coroutines of thousands of connections that arrived together
// would otherwise stay resident).
asio::awaitable<void> sweeper(Worker& w, Deadlines& deadlines) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  size_t parked_since_trim = 0;
  Clock::time_point last_trim{};
  for (unsigned tick = 0;; ++tick) {
    timer.expires_after(Deadlines::kSweepEvery);
    auto [ec] = co_await timer.async_wait(nothrow);
    if (ec) co_return;
    const auto now = Clock::now();
    deadlines.sweep(now);
    const size_t parking = w.idle.sweep_waiters(now);
    parked_since_trim += parking;
    if (tick % 25 == 0) w.idle.expire_parked(now);
    // At most once a second: on a loaded thread, a few connections park now and then, and a trim
    // each time was a storm of madvise calls and page faults.
    if ((parked_since_trim >= 1024 || (parking == 0 && parked_since_trim >= 64)) && now - last_trim >= std::chrono::seconds(1)) {
      malloc_trim(64 * 1024);
      parked_since_trim = 0;
      last_trim = now;
    }
  }
}

// Parked connections that become readable go back to a session of their own.
asio::awaitable<void> parked_watcher(Worker& w, Handler& h) {
  auto ex = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor ep(ex, ::dup(w.idle.epoll_fd()));
  while (true) {
    auto [ec] = co_await ep.async_wait(asio::posix::stream_descriptor::wait_read, nothrow);
    if (ec) co_return;
    for (auto& [fd, p] : w.idle.take_ready()) {
      sockaddr_storage local{};
      socklen_t len = sizeof local;
      error_code aec;
      tcp::socket s(ex);
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) s.assign(local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, aec);
      if (!s.is_open()) {
        ::close(fd);
        w.rt.flows().remove(p.flow);
        --w.rt.conns();
        continue;
      }
      h.start(std::move(s), w, p);
    }
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acc, Worker& w, Handler& h) {
  Runtime& rt = w.rt;
  while (true) {
    auto [ec, sock] = co_await acc.async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
    if (ec) {
      // Out of descriptors (EMFILE/ENFILE) and the like: back off instead of spinning.
      asio::steady_timer pause(acc.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (rt.conns() >= rt.settings().max_conns) continue;  // sock closes here: over --max-conns
    h.accepted();
    sock.set_option(tcp::no_delay(true), ec);
    if (rt.settings().park_fresh && sock.available(ec) == 0 && !ec) {
      // Nothing sent yet: the connection waits parked, without a coroutine or a buffer,
      // until its first bytes arrive (or the header timeout passes).
      const IpAddr peer = to_ipaddr(sock.remote_endpoint(ec).address());
      w.idle.park(sock, {peer, h.tag_for(peer), false, rt.flows().add(rt.client_flow(sock)), Clock::now() + rt.settings().header_timeout});
    } else {
      h.start(std::move(sock), w, std::nullopt);
    }
  }
}

// Threads share the port through SO_REUSEPORT, which would let edge share it with any other
// program that set it too (and take half its connections). A socket bound first without it
// fails when anyone listens there: then edge refuses to start, naming the holder.
void check_port_free(const tcp::endpoint& ep, const std::string& flag, const std::string& shown) {
  tcp::acceptor probe(asio::system_executor{});
  error_code ec;
  probe.open(ep.protocol(), ec);
  probe.set_option(tcp::acceptor::reuse_address(true), ec);
  probe.bind(ep, ec);
  if (ec == asio::error::address_in_use) throw bind_failure(ec, flag, shown, ep.port(), PortProto::tcp);
}

}  // namespace

Fatal bind_failure(const error_code& ec, const std::string& flag, const std::string& shown, uint16_t port, PortProto proto) {
  if (ec == asio::error::address_in_use) {
    const std::string owner = port_owner(port, proto);
    return Fatal(Exit::failed, flag + " " + shown + ": the address is already in use" + (owner.empty() ? "" : " by " + owner));
  }
  if (ec == asio::error::access_denied) return Fatal(Exit::privilege, flag + " " + shown + ": binding a port below 1024 needs root");
  return Fatal(Exit::failed, flag + " " + shown + ": " + ec.message());
}

std::string endpoint_text(const tcp::acceptor& acc) {
  error_code ec;
  const auto ep = acc.local_endpoint(ec);
  const std::string a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

tcp::acceptor listen_on(asio::io_context& ctx, const Endpoint& where, const std::string& flag, const std::string& any_host, bool reuseport,
                        bool check_free) {
  const std::string host = where.host().empty() ? any_host : where.host();
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw usage_error(flag, where.str(), "needs an address literal for the host");
  tcp::endpoint ep(addr, where.port());
  if (check_free) check_port_free(ep, flag, where.str());
  tcp::acceptor acc(ctx);
  acc.open(ep.protocol());
  acc.set_option(tcp::acceptor::reuse_address(true));
  int one = 1;
  if (reuseport) ::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);  // one listener per thread
  acc.bind(ep, ec);
  if (ec) throw bind_failure(ec, flag, where.str(), ep.port(), PortProto::tcp);
  acc.listen(asio::socket_base::max_listen_connections);
  return acc;
}

Runtime::Runtime(Settings s, Handler& h) : s_(std::move(s)), h_(h), flows_("edge:" + s_.command + ":" + std::to_string(getpid())) {
  const unsigned n = s_.threads ? s_.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    deadlines_.push_back(std::make_unique<Deadlines>());
    // One thread runs each context, and only it starts operations on its sockets: the reactor's
    // per-descriptor locks are left out (handlers may still be posted from other threads).
    ctxs_.push_back(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    acceptors_.push_back(listen_on(*ctxs_.back(), s_.listen, "--listen", s_.any_host, true, i == 0));
    workers_.push_back(std::unique_ptr<Worker>(new Worker{i, *this, *ctxs_.back(), Idle(flows_, conns_, kParkAfter)}));
  }
  control_ = std::make_unique<ControlServer>(flows_, s_.command);
  if (!control_->error().empty())
    std::fprintf(stderr, "edge: no control socket (%s): edge conntrack will not see this proxy's flows\n", control_->error().c_str());
}

Runtime::~Runtime() = default;

Flow Runtime::client_flow(const tcp::socket& s) const { return accepted_flow(s, s_.idle_timeout); }

Flow accepted_flow(const tcp::socket& s, Millis timeout) {
  error_code ec;
  const auto remote = s.remote_endpoint(ec), local = s.local_endpoint(ec);
  Flow f;
  f.proto = 6;  // IPPROTO_TCP
  f.state = "ESTABLISHED";
  f.timeout = uint32_t(std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
  f.orig = {to_ipaddr(remote.address()), to_ipaddr(local.address()), remote.port(), local.port()};
  f.family = f.orig.src.family();
  f.reply = {f.orig.dst, f.orig.src, f.orig.dport, f.orig.sport};
  f.assured = true;
  f.orig_counters = Counters{};
  f.reply_counters = Counters{};
  return f;
}

asio::awaitable<Waited> wait_for_bytes(Worker& w, Stream& s, boost::beast::flat_buffer& buf, Millis limit) {
  s.expires_after(limit);
  Idle::Waiter waiter;
  waiter.sock = &s.socket();
  waiter.since = Deadlines::coarse_now();
  waiter.limit = limit;
  waiter.parkable = !s.tls();  // TLS state cannot be parked
  w.idle.wait_begin(waiter);
  auto [ec, n] = co_await s.async_read_some(buf.prepare(8192), nothrow);
  w.idle.wait_end(waiter);
  if (n > 0) {
    buf.commit(n);  // bytes came, even if a timeout or the drain was about to end the wait
    co_return Waited{Waited::What::data, {}};
  }
  if (waiter.outcome == Idle::Waiter::Outcome::park && !w.rt.draining()) co_return Waited{Waited::What::park, waiter.since + waiter.limit};
  co_return Waited{Waited::What::closed, {}};
}

void set_upstream(FlowHandle& flow, const Tuple& reply) {
  flow.update([&](Flow& f) {
    if (f.reply == reply) return;
    f.reply = reply;
    classify_nat(f, std::nullopt);
  });
}

int Runtime::run() {
  const unsigned n = threads();
  for (unsigned i = 0; i < n; ++i) {
    asio::co_spawn(*ctxs_[i], accept_loop(acceptors_[i], *workers_[i], h_), asio::detached);
    asio::co_spawn(*ctxs_[i], sweeper(*workers_[i], *deadlines_[i]), asio::detached);
    asio::co_spawn(*ctxs_[i], parked_watcher(*workers_[i], h_), asio::detached);
  }
  // SIGINT/SIGTERM: stop accepting, let in-flight requests finish (up to the drain), then stop.
  const std::string prefix = "edge " + s_.command;
  asio::signal_set signals(*ctxs_[0], SIGINT, SIGTERM);
  asio::signal_set hup(*ctxs_[0], SIGHUP);
  asio::steady_timer drain_timer(*ctxs_[0]);
  const auto stop_all = [&] {
    for (auto& c : ctxs_) c->stop();
  };
  std::function<void()> drain_check;  // re-armed every 50 ms while draining
  signals.async_wait([&](const error_code& ec, int) {
    if (ec) return;
    draining_ = true;
    hup.cancel();
    // Stop accepting; idle keepalive connections are closed at once (they have nothing in
    // flight), in-flight requests finish and close their connections.
    for (unsigned i = 0; i < n; ++i)
      asio::post(*ctxs_[i], [&acc = acceptors_[i], &w = *workers_[i]] {
        error_code e;
        acc.close(e);
        w.idle.drain();
      });
    const auto deadline = Clock::now() + s_.drain;
    std::fprintf(stderr, "%s: draining: no new connections; %u open, waiting up to %s for requests in flight\n", prefix.c_str(), conns_.load(),
                 format_duration(s_.drain).c_str());
    drain_check = [&, deadline] {
      if (conns_ == 0 || Clock::now() >= deadline) {
        if (conns_) std::fprintf(stderr, "%s: drain time is up: closing %u connection(s) still open\n", prefix.c_str(), conns_.load());
        else std::fprintf(stderr, "%s: drained: every connection closed; exiting\n", prefix.c_str());
        return stop_all();
      }
      drain_timer.expires_after(std::chrono::milliseconds(50));
      drain_timer.async_wait([&](const error_code&) { drain_check(); });
    };
    drain_check();
  });

  std::function<void()> on_hup = [&] {
    hup.async_wait([&](const error_code& ec, int) {
      if (ec) return;
      h_.reopen_logs();
      on_hup();
    });
  };
  on_hup();

  std::vector<std::thread> others;
  for (unsigned i = 1; i < n; ++i)
    others.emplace_back([this, i] {
      Deadlines::current() = deadlines_[i].get();
      ctxs_[i]->run();
    });
  Deadlines::current() = deadlines_[0].get();
  ctxs_[0]->run();
  stop_all();
  for (auto& t : others) t.join();
  return 0;
}

}  // namespace edge::run
