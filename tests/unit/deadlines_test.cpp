// The per-thread deadline list: entries expire at the sweep after their deadline, never before;
// arming reads the last sweep's time, not the clock.
#include <doctest/doctest.h>

#include "core/net/deadlines.h"

using namespace edge;
using namespace std::chrono_literals;

namespace {

struct Timed : Deadlines::Entry {
  int expired = 0;
  void after(std::chrono::milliseconds d) { arm(Deadlines::base() + d); }
  void stop() { disarm(); }
  void expire() override { ++expired; }
};

struct CurrentList {  // installs a list as the thread's own for one test
  Deadlines list;
  Deadlines* saved = Deadlines::current();
  CurrentList() { Deadlines::current() = &list; }
  ~CurrentList() { Deadlines::current() = saved; }
};

}  // namespace

TEST_CASE("deadlines expire at the first sweep past them, once, and never early") {
  CurrentList c;
  const auto t0 = Deadlines::Clock::now();
  c.list.sweep(t0);  // the arming base is now t0 + one interval
  Timed a, b;
  a.after(100ms);
  b.after(300ms);
  c.list.sweep(t0 + 100ms);  // a's deadline counts from t0 + 20 ms: not yet
  CHECK(a.expired == 0);
  c.list.sweep(t0 + 120ms);
  CHECK(a.expired == 1);
  CHECK(b.expired == 0);
  c.list.sweep(t0 + 500ms);
  CHECK(a.expired == 1);  // once
  CHECK(b.expired == 1);
}

TEST_CASE("a disarmed or re-armed deadline does not fire at its old time") {
  CurrentList c;
  const auto t0 = Deadlines::Clock::now();
  c.list.sweep(t0);
  Timed a, b;
  a.after(50ms);
  b.after(50ms);
  a.stop();
  b.after(1000ms);  // moved later
  c.list.sweep(t0 + 200ms);
  CHECK(a.expired == 0);
  CHECK(b.expired == 0);
  c.list.sweep(t0 + 2000ms);
  CHECK(b.expired == 1);
}

TEST_CASE("an entry destroyed while armed leaves the list") {
  CurrentList c;
  c.list.sweep(Deadlines::Clock::now());
  Timed kept;
  kept.after(1ms);
  { Timed gone; gone.after(1ms); }
  c.list.sweep(Deadlines::Clock::now() + 1s);  // would touch freed memory (ASan) if it stayed linked
  CHECK(kept.expired == 1);
}
