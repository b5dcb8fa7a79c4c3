// The keepalive pool of upstream connections (core/net/upstream.h), on real loopback
// connections: a connection put in a slot is the one taken back; a slot keeps at most
// keep_per_slot (the extra is closed); slots are independent; a connection idle past the
// 200 ms shortcut is peeked and dropped if its peer closed it or sent unasked bytes.
#include <doctest/doctest.h>

#include <boost/asio/write.hpp>
#include <set>

#include "core/net/upstream.h"
#include "tests/unit/loopback.h"

using namespace edge;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// An upstream connection (the dialing side) and the backend's end of it.
struct Conn {
  std::unique_ptr<Upstream> up;
  tcp::socket backend;
  Upstream* raw;
};

Conn connect(test::Loopback& lo) {
  auto [dialed, accepted] = lo.pair();
  auto up = std::make_unique<Upstream>(std::move(dialed));
  Upstream* raw = up.get();
  return {std::move(up), std::move(accepted), raw};
}

// As if it had waited in the pool for a second: take() peeks at it.
void age(Upstream* u) { u->idle_since = Upstream::Clock::now() - 1s; }

}  // namespace

TEST_CASE("upstream pool: an empty or unknown slot gives nothing") {
  test::Loopback lo;
  UpstreamPool pool(4);
  CHECK(pool.take(0) == nullptr);
  CHECK(pool.take(7) == nullptr);
  auto c = connect(lo);
  pool.put(3, std::move(c.up));
  CHECK(pool.take(0) == nullptr);  // made by the resize, still empty
  CHECK(pool.take(9) == nullptr);
}

TEST_CASE("upstream pool: put then take gives the same connection, once") {
  test::Loopback lo;
  UpstreamPool pool(4);
  auto c = connect(lo);
  pool.put(0, std::move(c.up));
  auto back = pool.take(0);
  CHECK(back.get() == c.raw);
  CHECK(pool.take(0) == nullptr);
}

TEST_CASE("upstream pool: a slot keeps at most keep_per_slot; the extra is closed") {
  test::Loopback lo;
  UpstreamPool pool(2);
  auto a = connect(lo), b = connect(lo), extra = connect(lo);
  pool.put(0, std::move(a.up));
  pool.put(0, std::move(b.up));
  pool.put(0, std::move(extra.up));
  CHECK(test::peer_closed(extra.backend));
  auto first = pool.take(0), second = pool.take(0);
  CHECK(pool.take(0) == nullptr);
  CHECK(std::set<Upstream*>{first.get(), second.get()} == std::set<Upstream*>{a.raw, b.raw});
}

TEST_CASE("upstream pool: slots are independent") {
  test::Loopback lo;
  UpstreamPool pool(1);
  auto a = connect(lo), b = connect(lo);
  pool.put(0, std::move(a.up));
  pool.put(1, std::move(b.up));  // slot 0 being full does not matter
  CHECK(pool.take(1).get() == b.raw);
  CHECK(pool.take(1) == nullptr);
  CHECK(pool.take(0).get() == a.raw);
}

TEST_CASE("upstream pool: a long-idle connection is reused only while its peer is open and quiet") {
  test::Loopback lo;
  UpstreamPool pool(4);
  SUBCASE("open and quiet: reused") {
    auto c = connect(lo);
    pool.put(0, std::move(c.up));
    age(c.raw);
    CHECK(pool.take(0).get() == c.raw);
  }
  SUBCASE("closed by the peer: dropped") {
    auto c = connect(lo);
    pool.put(0, std::move(c.up));
    age(c.raw);
    c.backend.close();
    REQUIRE(test::readable(c.raw->stream.socket().native_handle()));
    CHECK(pool.take(0) == nullptr);
  }
  SUBCASE("unasked bytes from the peer: dropped") {
    auto c = connect(lo);
    pool.put(0, std::move(c.up));
    age(c.raw);
    asio::write(c.backend, asio::buffer("HTTP/1.1 408\r\n", 14));
    REQUIRE(test::readable(c.raw->stream.socket().native_handle()));
    CHECK(pool.take(0) == nullptr);
  }
  SUBCASE("a stale one is skipped for a good one beneath it") {
    auto good = connect(lo), stale = connect(lo);
    pool.put(0, std::move(good.up));
    pool.put(0, std::move(stale.up));  // taken first
    age(good.raw);
    age(stale.raw);
    stale.backend.close();
    REQUIRE(test::readable(stale.raw->stream.socket().native_handle()));
    CHECK(pool.take(0).get() == good.raw);
    CHECK(pool.take(0) == nullptr);
  }
}
