// The user engine's UDP session table: expiry, the --max-flows budget, lookup by address.
#include <doctest/doctest.h>

#include "engines/nat/udp_sessions.h"

using namespace edge;
using namespace edge::nat;
using namespace std::chrono_literals;

namespace {

ClientAddr client(const char* addr, uint16_t port) { return {*IpAddr::parse(addr), port}; }

struct Fixture {
  UdpSessions::Clock::time_point t{};  // the injected clock
  FlowBudget budget;
  UdpSessions sessions;
  explicit Fixture(uint64_t max = 4096, Millis idle = 60s) : budget(max), sessions(budget, idle, [this] { return t; }) {}
};

}  // namespace

TEST_CASE("a session expires at the idle timeout, not before") {
  Fixture f(10, 1000ms);
  const auto a = client("192.0.2.1", 5000);
  const uint64_t id = f.sessions.open(a);
  REQUIRE(id != 0);
  f.t += 999ms;
  CHECK(f.sessions.expire().empty());
  CHECK(f.sessions.touch(a) == id);
  CHECK(f.sessions.left(a) == 1000ms);
  f.t += 999ms;  // the touch restarted the idle time
  CHECK(f.sessions.expire().empty());
  CHECK(f.sessions.left(a) == 1ms);
  f.t += 1ms;
  CHECK(f.sessions.expire() == std::vector<uint64_t>{id});
  CHECK(f.sessions.touch(a) == 0);
  CHECK(f.sessions.size() == 0);
  CHECK(f.budget.now() == 0);
}

TEST_CASE("only idle sessions expire") {
  Fixture f(10, 1000ms);
  const auto a = client("192.0.2.1", 5000), b = client("192.0.2.2", 5000);
  const uint64_t ida = f.sessions.open(a);
  f.t += 500ms;
  const uint64_t idb = f.sessions.open(b);
  f.t += 500ms;
  CHECK(f.sessions.expire() == std::vector<uint64_t>{ida});
  CHECK(f.sessions.touch(b) == idb);
  CHECK(f.budget.now() == 1);
}

TEST_CASE("a full budget refuses new clients, counts each refusal, and keeps existing sessions") {
  Fixture f(2, 1000ms);
  const auto a = client("192.0.2.1", 1), b = client("192.0.2.1", 2), c = client("192.0.2.1", 3);
  CHECK(f.sessions.open(a) != 0);
  CHECK(f.sessions.open(b) != 0);
  CHECK(f.sessions.open(c) == 0);
  CHECK(f.sessions.open(c) == 0);
  CHECK(f.budget.refused() == 2);
  CHECK(f.budget.now() == 2);
  CHECK(f.budget.total() == 2);
  CHECK(f.sessions.touch(a) != 0);
  CHECK(f.sessions.touch(c) == 0);
}

TEST_CASE("a refused client is admitted once a slot frees") {
  Fixture f(1, 1000ms);
  const auto a = client("192.0.2.1", 1), b = client("192.0.2.9", 1);
  CHECK(f.sessions.open(a) != 0);
  CHECK(f.sessions.open(b) == 0);
  f.t += 1000ms;
  CHECK(f.sessions.expire().size() == 1);
  const uint64_t id = f.sessions.open(b);
  CHECK(id != 0);
  CHECK(f.sessions.touch(b) == id);
  CHECK(f.budget.refused() == 1);
  CHECK(f.budget.total() == 2);

  f.sessions.close(b);  // closed early: the slot is back at once
  CHECK(f.budget.now() == 0);
  CHECK(f.sessions.open(a) != 0);
}

TEST_CASE("the budget is shared: a slot another flow holds is not available") {
  Fixture f(2, 1000ms);
  FlowSlot tcp(f.budget);  // a TCP connection of the same engine
  REQUIRE(tcp);
  CHECK(f.sessions.open(client("192.0.2.1", 1)) != 0);
  CHECK(f.sessions.open(client("192.0.2.1", 2)) == 0);
  CHECK(f.budget.refused() == 1);
}

TEST_CASE("sessions are found by address and port, IPv4 and IPv6 apart") {
  Fixture f;
  const auto v4 = client("192.0.2.1", 4000), v4port = client("192.0.2.1", 4001);
  const auto v6 = client("2001:db8::1", 4000), v6other = client("2001:db8::2", 4000);
  const uint64_t a = f.sessions.open(v4), b = f.sessions.open(v4port), c = f.sessions.open(v6), d = f.sessions.open(v6other);
  CHECK(a != 0);
  CHECK(b != a);
  CHECK(c != b);
  CHECK(d != c);
  CHECK(f.sessions.touch(v4) == a);
  CHECK(f.sessions.touch(v4port) == b);
  CHECK(f.sessions.touch(v6) == c);
  CHECK(f.sessions.touch(v6other) == d);
  CHECK(f.sessions.touch(client("192.0.2.2", 4000)) == 0);
  CHECK(f.sessions.touch(client("::ffff:192.0.2.1", 4000)) == 0);  // the engine unmaps before lookup
  CHECK(f.sessions.size() == 4);
}
