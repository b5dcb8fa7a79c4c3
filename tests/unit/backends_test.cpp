// The backend set of `edge rproxy` (engines/rproxy/backends.h) on literal addresses: each
// balancer's first choice (round robin rotates it, least_conn follows `active`, hash_src is
// sticky per client and spreads clients), every healthy backend planned once, passive
// ejection after fail_threshold failures in a row (a success resets the count and brings an
// ejected backend back), and the nginx fallback to all backends when none is healthy.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "engines/rproxy/backends.h"

using namespace edge;
using namespace edge::rproxy;
using namespace std::chrono_literals;

namespace {

const IpAddr kClient = *IpAddr::parse("192.0.2.1");

// Three backends on literal addresses (no DNS), under one balancer.
struct Pool {
  BackendSet set;
  explicit Pool(Balance b, unsigned threshold = 3, Millis eject_for = Millis(60000)) : set(options(b, threshold, eject_for)) {}

  static Options options(Balance b, unsigned threshold, Millis eject_for) {
    Options o;
    for (const char* e : {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}) o.backends.push_back(*Endpoint::parse(e));
    o.balance = b;
    o.fail_threshold = threshold;
    o.eject_for = eject_for;
    return o;
  }
  std::vector<size_t> plan(const IpAddr& client = kClient) {
    std::vector<size_t> out{99};  // plan() clears it first
    set.plan(client, out);
    return out;
  }
  // The backends planned, in index order.
  std::vector<size_t> planned() {
    auto v = plan();
    std::sort(v.begin(), v.end());
    return v;
  }
  void fail(size_t i, unsigned times) {
    for (unsigned n = 0; n < times; ++n) set.failed(set.at(i), "connection_refused");
  }
  bool healthy(size_t i) { return set.healthy(set.at(i)); }
};

const std::vector<size_t> kAll{0, 1, 2};

}  // namespace

TEST_CASE("backends: round robin rotates the first choice and plans every backend once") {
  Pool p(Balance::round_robin);
  REQUIRE(p.set.size() == 3);
  CHECK(p.set.at(1).name == "127.0.0.1:2");
  std::set<size_t> firsts;
  for (int i = 0; i < 3; ++i) {
    auto order = p.plan();
    firsts.insert(order.front());
    std::sort(order.begin(), order.end());
    CHECK(order == kAll);
  }
  CHECK(firsts.size() == 3);
}

TEST_CASE("backends: least_conn picks the backend with the fewest active requests") {
  Pool p(Balance::least_conn);
  p.set.at(0).active = 5, p.set.at(1).active = 1, p.set.at(2).active = 3;
  CHECK(p.plan().front() == 1);
  CHECK(p.planned() == kAll);
  p.set.at(2).active = 0;
  CHECK(p.plan().front() == 2);
  CHECK(p.plan().front() == 2);  // no rotation: the count decides
}

TEST_CASE("backends: hash_src keeps a client on one backend and spreads clients") {
  Pool p(Balance::hash_src);
  const auto first = p.plan().front();
  for (int i = 0; i < 5; ++i) CHECK(p.plan().front() == first);
  CHECK(p.planned() == kAll);
  std::set<size_t> chosen;
  for (int host = 1; host <= 64; ++host) chosen.insert(p.plan(*IpAddr::parse("198.51.100." + std::to_string(host))).front());
  CHECK(chosen.size() == 3);
}

TEST_CASE("backends: fail_threshold failures in a row eject a backend; the plan skips it") {
  Pool p(Balance::round_robin, 3);
  p.fail(1, 2);
  CHECK(p.healthy(1));
  CHECK(p.set.at(1).ejections == 0);
  p.fail(1, 1);
  CHECK_FALSE(p.healthy(1));
  CHECK(p.set.at(1).ejections == 1);
  CHECK(p.healthy(0));
  for (int i = 0; i < 4; ++i) CHECK(p.planned() == std::vector<size_t>{0, 2});
  p.fail(1, 3);  // failing again while ejected is not a second ejection
  CHECK(p.set.at(1).ejections == 1);
}

TEST_CASE("backends: a success between failures resets the count") {
  Pool p(Balance::round_robin, 3);
  p.fail(0, 2);
  p.set.succeeded(p.set.at(0));
  p.fail(0, 2);
  CHECK(p.healthy(0));
  CHECK(p.set.at(0).ejections == 0);
  CHECK(p.set.at(0).recoveries == 0);  // a success of a healthy backend is no recovery
}

TEST_CASE("backends: with every backend ejected the plan still lists them all") {
  Pool p(Balance::round_robin, 1);
  for (size_t i = 0; i < 3; ++i) p.fail(i, 1);
  for (size_t i = 0; i < 3; ++i) CHECK_FALSE(p.healthy(i));
  CHECK(p.planned() == kAll);
}

TEST_CASE("backends: a success brings an ejected backend back at once") {
  Pool p(Balance::round_robin, 1);
  p.fail(2, 1);
  REQUIRE_FALSE(p.healthy(2));
  p.set.succeeded(p.set.at(2));
  CHECK(p.healthy(2));
  CHECK(p.set.at(2).recoveries == 1);
  CHECK(p.planned() == kAll);
  p.set.succeeded(p.set.at(2));
  CHECK(p.set.at(2).recoveries == 1);
}

TEST_CASE("backends: an ejection ends after eject_for") {
  Pool p(Balance::round_robin, 1, Millis(1));
  p.fail(0, 1);
  std::this_thread::sleep_for(50ms);
  CHECK(p.healthy(0));
  CHECK(p.planned() == kAll);
}
