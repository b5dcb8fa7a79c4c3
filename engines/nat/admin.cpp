// `edge nat status` (the running instances, through their control sockets, and persisted
// tables) and `edge nat flush` (persisted tables, their flows, and forwarding a killed
// instance left on).
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <regex>

#include "core/base/caps.h"
#include "core/base/errors.h"
#include "core/conntrack/sweep.h"
#include "core/control/control.h"
#include "core/nft/session.h"
#include "core/out/json_text.h"
#include "engines/nat/forwarding.h"
#include "engines/nat/options.h"
#include "engines/nat/ruleset.h"

namespace edge::nat {
namespace json = boost::json;
namespace {

// Tables named edge_persist_*: loaded with --persist, outliving their edge.
std::optional<std::vector<std::string>> persisted_tables(nft::Session& nft) {
  auto r = nft.run("list tables inet");
  if (!r.ok) return std::nullopt;
  std::vector<std::string> out;
  static const std::regex line("table inet (edge_persist_[0-9]+)");
  for (std::sregex_iterator it(r.output.begin(), r.output.end(), line), end; it != end; ++it) out.push_back((*it)[1]);
  return out;
}

}  // namespace

int run_status(bool as_json) {
  json::array instances;
  for (const auto& reply : query_control("status", "nat")) {
    boost::system::error_code ec;
    json::value v = json::parse(reply.text, ec);
    if (!ec && v.is_object()) instances.push_back(v);
  }
  std::optional<std::vector<std::string>> tables;
  // Without the capability libnftables prints its own complaint on stderr: do not ask.
  if (has_net_admin()) {
    try {
      nft::Session nft;
      tables = persisted_tables(nft);
    } catch (const Fatal&) {
    }
  }
  if (as_json) {
    json::object o;
    o["instances"] = instances;
    if (tables) {
      json::array t;
      for (auto& name : *tables) t.push_back(json::string("inet " + name));
      o["persisted_tables"] = t;
    } else {
      o["persisted_tables"] = nullptr;  // unknown: listing tables needs CAP_NET_ADMIN
    }
    std::puts(json_text(o).c_str());
    return 0;
  }
  if (instances.empty()) std::puts("no edge nat running (for this user)");
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& v : instances) {
    const auto& o = v.as_object();
    const int64_t up = now - o.at("since").to_number<int64_t>();
    std::printf("pid %lld  %s engine  up %llds  flows %llu%s\n", (long long)o.at("pid").to_number<int64_t>(),
                json::value_to<std::string>(o.at("engine")).c_str(), (long long)up, (unsigned long long)o.at("flows_now").to_number<uint64_t>(),
                o.contains("table") ? ("  table " + json::value_to<std::string>(o.at("table"))).c_str() : "");
    for (const auto& r : o.at("rules").as_array()) std::printf("  %s\n", json::value_to<std::string>(r).c_str());
  }
  if (!tables) std::puts("persisted tables: unknown (listing nftables needs CAP_NET_ADMIN)");
  else if (tables->empty()) std::puts("persisted tables: none");
  else
    for (auto& t : *tables) std::printf("persisted table inet %s ('edge nat flush' removes it)\n", t.c_str());
  return 0;
}

int run_flush() {
  if (!has_net_admin()) throw Fatal(Exit::privilege, "nat flush: removing nftables tables needs CAP_NET_ADMIN (run as root)");
  nft::Session nft;
  auto tables = persisted_tables(nft);
  if (!tables) throw Fatal(Exit::privilege, "nat flush: listing nftables needs CAP_NET_ADMIN (run as root)");
  for (const auto& t : *tables) {
    auto r = nft.run("delete table inet " + t);
    if (!r.ok) throw Fatal(Exit::failed, "nat flush: could not delete table inet " + t + ": " + r.error.substr(0, r.error.find('\n')));
    std::fprintf(stderr, "edge nat: removed table inet %s\n", t.c_str());
  }
  const uint64_t flows = delete_flows([](const CtEntry&) { return true; }, MarkFilter{kPersistTag, kMarkTagMask});
  if (flows) std::fprintf(stderr, "edge nat: deleted %llu conntrack entries of persisted rules\n", (unsigned long long)flows);
  for (const auto& line : Forwarding::restore_orphaned()) std::fprintf(stderr, "edge nat: %s\n", line.c_str());
  if (tables->empty() && !flows) std::fprintf(stderr, "edge nat: nothing persisted to remove\n");
  return 0;
}

}  // namespace edge::nat
