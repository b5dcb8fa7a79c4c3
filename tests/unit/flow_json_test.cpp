// The JSON shape of a flow, which users script against: field names and types are fixed.
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <boost/json.hpp>

#include "core/out/flow_json.h"
#include "core/out/flow_text.h"
#include "core/out/json_text.h"
#include "core/out/table.h"
#include "core/base/text.h"

#include <cstdio>
#include <stdexcept>

using namespace edge;
namespace json = boost::json;

TEST_CASE("a DNAT'd TCP flow has the documented shape") {
  Flow f;
  f.proto = IPPROTO_TCP;
  f.state = "ESTABLISHED";
  f.timeout = 431999;
  f.assured = true;
  f.orig = {*IpAddr::parse("10.0.1.42"), *IpAddr::parse("203.0.113.1"), 40000, 443};
  f.reply = {*IpAddr::parse("10.0.2.80"), *IpAddr::parse("10.0.1.42"), 8443, 40000};
  f.orig_counters = Counters{3, 180};
  f.reply_counters = Counters{2, 120};
  classify_nat(f, 1u << 8);
  json::value v = flow_to_json(f, {});
  CHECK(v.at("origin") == "kernel");
  CHECK(v.at("proto") == "tcp");
  CHECK(v.at("state") == "ESTABLISHED");
  CHECK(v.at("timeout").to_number<int64_t>() == 431999);
  CHECK(v.at("orig").at("dst") == "203.0.113.1");
  CHECK(v.at("orig").at("dport").to_number<int64_t>() == 443);
  CHECK(v.at("reply").at("src") == "10.0.2.80");
  CHECK(v.at("nat") == json::array{"dnat"});
  CHECK(v.at("assured") == true);
  CHECK(v.at("counters").at("reply").at("bytes").to_number<uint64_t>() == 120);
  CHECK(nat_text(f) == "DNAT :443 -> 10.0.2.80:8443");
}

TEST_CASE("ICMP flows carry type, code and id instead of ports; UDP has a null state") {
  Flow f;
  f.proto = IPPROTO_ICMP;
  f.orig.icmp_type = 8;
  f.orig.icmp_id = 7;
  json::value v = flow_to_json(f, {});
  CHECK(v.at("orig").at("type").to_number<int64_t>() == 8);
  CHECK(v.at("orig").at("id").to_number<int64_t>() == 7);
  CHECK_FALSE(v.at("orig").as_object().contains("sport"));
  CHECK(v.at("state").is_null());
  CHECK(v.at("counters").is_null());
}

TEST_CASE("human cells: SNAT text, IPv6 brackets, counters") {
  Flow f;
  f.family = Family::v6;
  f.proto = IPPROTO_UDP;
  f.orig = {*IpAddr::parse("fd00::2"), *IpAddr::parse("2001:db8::53"), 5353, 53};
  f.reply = {*IpAddr::parse("2001:db8::53"), *IpAddr::parse("2001:db8::1"), 53, 5353};
  classify_nat(f, 1u << 7);
  std::vector<std::string> cells;
  flow_cells(f, true, cells);
  CHECK(cells[0] == "udp");
  CHECK(cells[1] == "-");
  CHECK(cells[2] == "[fd00::2]:5353 -> [2001:db8::53]:53");
  CHECK(cells[3] == "SNAT fd00::2 -> 2001:db8::1");
  CHECK(cells[6] == "-");
  CHECK(human_count(1536) == "1.5K");
  CHECK(human_count(1023) == "1023");
}

TEST_CASE("JSON numbers print in plain decimal, strings untouched") {
  CHECK(plain_json_numbers(R"({"a":1E2,"b":5E-1,"c":3.01119E3,"d":0E0,"e":-2.5E0,"f":12})") ==
        R"({"a":100,"b":0.5,"c":3011.19,"d":0,"e":-2.5,"f":12})");
  CHECK(plain_json_numbers(R"({"s":"1E2 \" 5E-1","n":[1E-2]})") == R"({"s":"1E2 \" 5E-1","n":[0.01]})");
  CHECK(json_text(json::value{{"x", 0.25}}) == R"({"x":0.25})");
}

TEST_CASE("the table's FLAGS column and the JSON agree on every flag combination") {
  for (int bits = 0; bits < 4; ++bits) {
    Flow f;
    f.proto = IPPROTO_TCP;
    f.state = "SYN_SENT";
    f.assured = bits & 1;
    f.unreplied = bits & 2;
    CAPTURE(bits);
    std::vector<std::string> cells;
    flow_cells(f, false, cells);
    const std::string table_flags = cells.back();
    json::value v = flow_to_json(f, {});
    std::string json_flags;
    for (const char* name : {"assured", "unreplied"})
      if (v.at(name).as_bool()) json_flags += (json_flags.empty() ? "" : ",") + std::string(name);
    CHECK(table_flags == json_flags);
  }
  Flow both;
  both.assured = both.unreplied = true;
  std::vector<std::string> cells;
  flow_cells(both, true, cells);
  CHECK(cells.back() == "assured,unreplied");
}

TEST_CASE("JSON output is valid UTF-8 whatever bytes its strings held") {
  json::object o{{"server", "nginx\xff\xfe"}, {"reason", std::string("OK\0\x1b", 4)}, {"ok", "b\xc3\xbc" "cher"}};
  const std::string text = json_text(o);
  CHECK(is_valid_utf8(text));
  json::value back = json::parse(text);
  CHECK(back.at("server") == "nginx\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(std::string(back.at("reason").as_string()) == std::string("OK\0\x1b", 4));  // control bytes escaped by Boost.JSON
  CHECK(back.at("ok") == "b\xc3\xbc" "cher");
}

TEST_CASE("a JSON flow stream closes only when the command succeeds") {
  auto written = [](bool fail) {
    std::FILE* f = std::tmpfile();
    try {
      JsonFlowWriter w(f, JsonFlowWriter::Mode::array);
      if (fail) throw std::runtime_error("needs CAP_NET_ADMIN");
    } catch (const std::runtime_error&) {
    }
    std::fflush(f);
    std::rewind(f);
    char buf[64] = {};
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    return std::string(buf, n);
  };
  CHECK(written(false) == "[]\n");
  CHECK(written(true) == "");  // not "[]": that would read as "no flows"
  std::FILE* f = std::tmpfile();
  {
    JsonFlowWriter w(f, JsonFlowWriter::Mode::array);
    Flow odd;
    odd.origin = "edge:\xff:1";
    w.write(odd);
  }
  std::rewind(f);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  CHECK(is_valid_utf8(text));
  CHECK(json::parse(text).as_array().at(0).at("origin") == "edge:\xEF\xBF\xBD:1");
}

TEST_CASE("a failed table prints no header") {
  std::FILE* f = std::tmpfile();
  try {
    TableWriter t(f, flow_columns(false));
    throw std::runtime_error("needs CAP_NET_ADMIN");
  } catch (const std::runtime_error&) {
  }
  CHECK(std::ftell(f) == 0);
  std::fclose(f);
}
