// Durations, counts, percentages and sizes as typed in flags.
#include <doctest/doctest.h>

#include "tests/unit/print_parsed.h"

#include "core/base/duration.h"
#include "core/base/numbers.h"

using namespace edge;
using namespace std::chrono_literals;

TEST_CASE("durations parse with units and combinations") {
  CHECK(*parse_duration("500ms") == 500ms);
  CHECK(*parse_duration("30s") == 30s);
  CHECK(*parse_duration("30") == 30s);
  CHECK(*parse_duration("5m") == 5min);
  CHECK(*parse_duration("2h") == 2h);
  CHECK(*parse_duration("1d") == 24h);
  CHECK(*parse_duration("1m30s") == 90s);
  CHECK(*parse_duration("0s") == 0ms);
  CHECK(*parse_duration("1h2m3s4ms") == 3723004ms);
}

TEST_CASE("durations accept decimals down to a millisecond") {
  CHECK(*parse_duration("1.5s") == 1500ms);
  CHECK(*parse_duration("1.5") == 1500ms);
  CHECK(*parse_duration("0.25m") == 15s);
  CHECK(*parse_duration("1.5h30s") == 5430s);
  CHECK(*parse_duration("0.001s") == 1ms);
  CHECK(*parse_duration("2.0ms") == 2ms);
  CHECK(parse_duration("1.5ms").error().find("finer than a millisecond") != std::string::npos);
  CHECK(parse_duration("0.0001s").error().find("finer than a millisecond") != std::string::npos);
  CHECK_FALSE(parse_duration("0.1234567891s"));  // more decimals than any unit needs
}

TEST_CASE("a unit may appear once, largest first") {
  for (const char* bad : {"1h1h", "1s1s", "30s5m", "1ms1s", "1m1m30s", "5d1d"}) {
    CAPTURE(bad);
    auto r = parse_duration(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("each unit once") != std::string::npos);
  }
}

TEST_CASE("bad durations are refused with what is accepted") {
  for (const char* bad : {"", "s", "5x", "-1s", "1.s", ".5s", "1..5s", "1.5.5s", "5 s", "5s3", "3 5", "1.5 ", "99999999999999999999d", "999999999999.9d"}) {
    CAPTURE(bad);
    auto r = parse_duration(bad);
    REQUIRE_FALSE(r);
  }
  CHECK(parse_duration("5x").error().find("500ms") != std::string::npos);
}

TEST_CASE("durations print their two largest units") {
  CHECK(format_duration(432000s) == "5d");
  CHECK(format_duration(431999s) == "4d23h");
  CHECK(format_duration(119s) == "1m59s");
  CHECK(format_duration(120s) == "2m");
  CHECK(format_duration(7s) == "7s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1500ms) == "1.5s");
  CHECK(format_duration(3700s) == "1h1m");
}

TEST_CASE("counts, percentages and sizes") {
  CHECK(*parse_count("0") == 0);
  CHECK(*parse_count("200000") == 200000);
  CHECK_FALSE(parse_count("-1"));
  CHECK_FALSE(parse_count("1e3"));
  CHECK(*parse_percent("80") == 80.0);
  CHECK(*parse_percent("92.5%") == 92.5);
  CHECK_FALSE(parse_percent("101"));
  CHECK_FALSE(parse_percent("-3"));
  CHECK_FALSE(parse_percent("nan"));
  CHECK(*parse_size("4096") == 4096);
  CHECK(*parse_size("8M") == 8u << 20);
  CHECK(*parse_size("512k") == 512u << 10);
  CHECK_FALSE(parse_size("8MB"));
  CHECK_FALSE(parse_size("2048G"));
}
