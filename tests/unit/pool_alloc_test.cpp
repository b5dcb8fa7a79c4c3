// The per-thread pool under header fields: once warm, building, rewriting and dropping a
// request head's fields takes nothing from malloc.
#include <doctest/doctest.h>

#include "core/http/forwarding.h"

using namespace edge;

namespace {

void one_request_head() {
  http::Fields h;
  h.insert("Host", "example.com:8080");
  h.insert("User-Agent", "curl/7.88.1");
  h.insert("Accept", "*/*");
  h.insert("Connection", "keep-alive, X-Hop");
  h.insert("X-Hop", "gone");
  http::strip_hop_by_hop(h, false);
  http::add_forwarding(h, {*IpAddr::parse("10.0.0.7"), false, "http", "1.1 edge-00000000"});
  CHECK(h["X-Forwarded-For"] == "10.0.0.7");
  CHECK(h.count("X-Hop") == 0);
}

}  // namespace

TEST_CASE("header fields on the pool: no malloc once warm") {
  one_request_head();
  const auto misses = pool::misses();
  for (int i = 0; i < 1000; ++i) one_request_head();
  CHECK(pool::misses() == misses);
}

TEST_CASE("pool blocks are reused by size class; large blocks bypass it") {
  void* a = pool::take(40);
  pool::give(a, 40);
  void* b = pool::take(60);  // same 64-byte class: the block just freed
  CHECK(a == b);
  pool::give(b, 60);
  const auto misses = pool::misses();
  void* big = pool::take(100000);
  CHECK(pool::misses() == misses + 1);
  pool::give(big, 100000);
}
