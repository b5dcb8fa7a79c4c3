// The idle set of a worker thread (core/run/idle.h), on real loopback connections: a waiter
// past its limit is expired and one past the grace period told to park (only if parkable),
// with its pending read cancelled; a parked descriptor leaves Asio, is counted in `conns`,
// comes back readable with its Parked data, and is closed at its deadline or at the drain
// (its peer reads EOF, its flow leaves the table, `conns` goes down).
#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio/write.hpp>

#include "core/run/idle.h"
#include "tests/unit/loopback.h"

using namespace edge;
using namespace std::chrono_literals;
using run::Idle;
using Outcome = Idle::Waiter::Outcome;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A pending one-byte read on a socket, as a session's wait for its next request.
struct PendingRead {
  char byte = 0;
  bool done = false;
  boost::system::error_code ec;
  explicit PendingRead(tcp::socket& s) {
    s.async_read_some(asio::buffer(&byte, 1), [this](boost::system::error_code e, size_t) { done = true, ec = e; });
  }
};

Idle::Waiter waiter(tcp::socket& s, Idle::Clock::time_point since, Idle::Clock::duration limit, bool parkable) {
  Idle::Waiter w;
  w.sock = &s;
  w.since = since;
  w.limit = limit;
  w.parkable = parkable;
  return w;
}

Idle::Parked parked(uint64_t flow, Idle::Clock::time_point deadline) {
  Idle::Parked p;
  p.peer = *IpAddr::parse("127.0.0.1");
  p.tag = 7;
  p.served = true;
  p.flow = flow;
  p.deadline = deadline;
  return p;
}

struct Fixture {
  test::Loopback lo;
  FlowTable flows{"test"};
  std::atomic<unsigned> conns{0};
};

}  // namespace

TEST_CASE("idle: a waiter past its limit is expired and its pending read aborted") {
  Fixture f;
  Idle idle(f.flows, f.conns, 1h);
  auto [client, server] = f.lo.pair();
  PendingRead r(server);
  const auto t0 = Idle::Clock::now();
  auto w = waiter(server, t0, 10ms, true);
  idle.wait_begin(w);

  CHECK(idle.sweep_waiters(t0 + 9ms) == 0);
  f.lo.io.poll();
  CHECK(w.outcome == Outcome::none);
  CHECK_FALSE(r.done);

  CHECK(idle.sweep_waiters(t0 + 10ms) == 0);  // expired, not parked
  CHECK(w.outcome == Outcome::expired);
  f.lo.io.poll();
  CHECK(r.done);
  CHECK(r.ec == asio::error::operation_aborted);
  idle.wait_end(w);
}

TEST_CASE("idle: past the grace period only a parkable waiter is told to park, once") {
  Fixture f;
  Idle idle(f.flows, f.conns, 1ms);
  auto [c1, plain] = f.lo.pair();
  auto [c2, tls] = f.lo.pair();
  PendingRead r1(plain), r2(tls);
  const auto t0 = Idle::Clock::now();
  auto wp = waiter(plain, t0, 1h, true), wt = waiter(tls, t0, 1h, false);
  idle.wait_begin(wp);
  idle.wait_begin(wt);

  CHECK(idle.sweep_waiters(t0 + 5ms) == 1);
  CHECK(wp.outcome == Outcome::park);
  CHECK(wt.outcome == Outcome::none);
  f.lo.io.poll();
  CHECK(r1.done);
  CHECK(r1.ec == asio::error::operation_aborted);
  CHECK_FALSE(r2.done);
  CHECK(idle.sweep_waiters(t0 + 10ms) == 0);  // told already

  idle.wait_end(wp);
  idle.wait_end(wt);
  plain.close(), tls.close();
  f.lo.io.poll();
  CHECK(r2.done);
}

TEST_CASE("idle: a parked connection leaves Asio and comes back readable with its data") {
  Fixture f;
  Idle idle(f.flows, f.conns, 1ms);
  auto [client, server] = f.lo.pair();
  const int fd = server.native_handle();
  const uint64_t flow = f.flows.add(Flow{});
  idle.park(server, parked(flow, Idle::Clock::now() + 1h));
  CHECK(f.conns == 1);
  CHECK(idle.parked() == 1);
  CHECK_FALSE(server.is_open());
  CHECK(idle.take_ready().empty());  // quiet: stays parked

  asio::write(client, asio::buffer("x", 1));
  REQUIRE(test::readable(idle.epoll_fd()));
  auto ready = idle.take_ready();
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].first == fd);
  CHECK(ready[0].second.flow == flow);
  CHECK(ready[0].second.tag == 7);
  CHECK(ready[0].second.served);
  CHECK(idle.parked() == 0);
  CHECK(f.conns == 1);                    // the caller adopts the count...
  CHECK(f.flows.snapshot().size() == 1);  // ...and the flow
  char c = 0;
  CHECK(::read(fd, &c, 1) == 1);  // the descriptor is still the connection
  CHECK(c == 'x');
  ::close(fd);
}

TEST_CASE("idle: expire_parked closes only the parked connections past their deadline") {
  Fixture f;
  Idle idle(f.flows, f.conns, 1ms);
  auto [c1, s1] = f.lo.pair();
  auto [c2, s2] = f.lo.pair();
  const auto t0 = Idle::Clock::now();
  const uint64_t soon = f.flows.add(Flow{}), later = f.flows.add(Flow{});
  idle.park(s1, parked(soon, t0 + 10ms));
  idle.park(s2, parked(later, t0 + 1h));
  REQUIRE(f.conns == 2);

  idle.expire_parked(t0 + 9ms);
  CHECK(idle.parked() == 2);
  CHECK(f.conns == 2);

  idle.expire_parked(t0 + 10ms);
  CHECK(idle.parked() == 1);
  CHECK(f.conns == 1);
  const auto left = f.flows.snapshot();
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == later);
  CHECK(test::peer_closed(c1));
  c2.non_blocking(true);
  char c;
  boost::system::error_code ec;
  c2.read_some(asio::buffer(&c, 1), ec);
  CHECK(ec == asio::error::would_block);  // the other one is still open
}

TEST_CASE("idle: drain tells waiters to stop and closes every parked connection") {
  Fixture f;
  auto [cw, sw] = f.lo.pair();
  auto [cp, sp] = f.lo.pair();
  auto [cx, sx] = f.lo.pair();
  PendingRead r(sw);
  {
    Idle idle(f.flows, f.conns, 1h);
    const auto t0 = Idle::Clock::now();
    auto w = waiter(sw, t0, 1h, true), told = waiter(sx, t0, 1ms, false);
    idle.wait_begin(w);
    idle.wait_begin(told);
    idle.sweep_waiters(t0 + 5ms);  // `told` expires first
    idle.park(sp, parked(f.flows.add(Flow{}), t0 + 1h));
    REQUIRE(f.conns == 1);

    idle.drain();
    CHECK(w.outcome == Outcome::drain);
    CHECK(told.outcome == Outcome::expired);
    CHECK(idle.parked() == 0);
    CHECK(f.conns == 0);
    CHECK(f.flows.snapshot().empty());
    CHECK(test::peer_closed(cp));
    f.lo.io.poll();
    CHECK(r.done);
    CHECK(r.ec == asio::error::operation_aborted);
    idle.wait_end(w);
    idle.wait_end(told);
  }
  CHECK(f.conns == 0);  // the destructor has nothing left to close twice
}

TEST_CASE("idle: its destructor closes what is still parked") {
  Fixture f;
  auto [client, server] = f.lo.pair();
  {
    Idle idle(f.flows, f.conns, 1ms);
    idle.park(server, parked(f.flows.add(Flow{}), Idle::Clock::now() + 1h));
    REQUIRE(f.conns == 1);
  }
  CHECK(f.conns == 0);
  CHECK(f.flows.snapshot().empty());
  CHECK(test::peer_closed(client));
}
