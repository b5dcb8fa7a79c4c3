// `edge conntrack stats`: how full the table is and why — count against the limit, what could
// be evicted (unreplied) and what cannot (assured), per protocol and state, the kernel's drop
// counters, and the sources holding the most entries.
#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <vector>

#include "core/base/errors.h"
#include "core/base/netns.h"
#include "core/conntrack/proc_table.h"
#include "core/out/flow_json.h"
#include "core/out/json_text.h"
#include "engines/conntrack/options.h"
#include "engines/conntrack/source.h"

namespace edge::conntrack {
namespace {

struct Breakdown {
  uint64_t matched = 0, assured = 0, unreplied = 0;
  std::map<std::string, uint64_t> by_proto, by_state;
  std::map<IpAddr, uint64_t> by_source;
};

std::vector<std::pair<IpAddr, uint64_t>> top_sources(const Breakdown& b, unsigned n) {
  std::vector<std::pair<IpAddr, uint64_t>> v(b.by_source.begin(), b.by_source.end());
  const size_t k = std::min<size_t>(n, v.size());
  std::partial_sort(v.begin(), v.begin() + k, v.end(), [](auto& a, auto& c) { return a.second > c.second || (a.second == c.second && a.first < c.first); });
  v.resize(k);
  return v;
}

double fill_pct(const TableCount& c) { return c.max ? 100.0 * double(c.entries) / double(c.max) : 0.0; }
// Three significant digits: "100%", "45.7%", "0.0042%" (a tiny fill is still not zero).
std::string pct_text(double pct) { return fmt::format("{:.3g}%", pct); }

std::vector<std::pair<const char*, uint64_t>> kernel_counters(const ConntrackCpuStats& s) {
  return {{"drop", s.drop},       {"early_drop", s.early_drop},         {"insert_failed", s.insert_failed},
          {"invalid", s.invalid}, {"insert", s.insert},                 {"found", s.found},
          {"error", s.error},     {"search_restart", s.search_restart}, {"clash_resolve", s.clash_resolve},
          {"chaintoolong", s.chaintoolong}};
}

void print_json(const TableCount& c, const std::optional<ConntrackCpuStats>& k, const Breakdown& b, unsigned top) {
  namespace json = boost::json;
  json::object o;
  o["count"] = c.entries;
  o["max"] = c.max;
  o["fill_pct"] = std::round(fill_pct(c) * 100) / 100;
  o["matched"] = b.matched;
  o["assured"] = b.assured;
  o["unreplied"] = b.unreplied;
  json::object protos, states, kernel;
  for (auto& [p, n] : b.by_proto) protos[p] = n;
  for (auto& [s, n] : b.by_state) states[s] = n;
  o["by_proto"] = std::move(protos);
  o["by_state"] = std::move(states);
  if (k) {
    for (auto& [name, v] : kernel_counters(*k)) kernel[name] = v;
    o["kernel"] = std::move(kernel);
  } else {
    o["kernel"] = nullptr;
  }
  json::array tops;
  for (auto& [addr, n] : top_sources(b, top)) tops.push_back(json::object{{"src", addr.str()}, {"flows", n}});
  o["top_sources"] = std::move(tops);
  std::string s = json_text(o);
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

std::string join_counts(const std::map<std::string, uint64_t>& m) {
  std::vector<std::pair<std::string, uint64_t>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
  std::string s;
  for (auto& [k, n] : v) s += fmt::format("{}{} {}", s.empty() ? "" : "  ", k, n);
  return s.empty() ? "-" : s;
}

void print_human(const TableCount& c, const std::optional<ConntrackCpuStats>& k, const Breakdown& b, unsigned top, bool filtered) {
  std::string out;
  auto line = [&](std::string_view label, const std::string& value) { out += fmt::format("{:<14} {}\n", label, value); };
  line("entries", fmt::format("{} of {} ({} full)", c.entries, c.max, pct_text(fill_pct(c))));
  if (filtered) line("matching", fmt::format("{}", b.matched));
  const uint64_t base = filtered ? b.matched : std::max<uint64_t>(b.matched, 1);
  line("assured", fmt::format("{} ({:.0f}%, cannot be evicted)", b.assured, 100.0 * double(b.assured) / double(std::max<uint64_t>(base, 1))));
  line("unreplied", fmt::format("{} ({:.0f}%, evictable when full)", b.unreplied, 100.0 * double(b.unreplied) / double(std::max<uint64_t>(base, 1))));
  line("by protocol", join_counts(b.by_proto));
  line("by TCP state", join_counts(b.by_state));
  if (k) {
    std::string counters;
    for (auto& [name, v] : kernel_counters(*k)) counters += fmt::format("{}{} {}", counters.empty() ? "" : "  ", name, v);
    line("kernel", counters);
  } else {
    line("kernel", "- (counters need ctnetlink)");
  }
  auto tops = top_sources(b, top);
  for (size_t i = 0; i < tops.size(); ++i)
    line(i == 0 ? "top sources" : "", fmt::format("{:<39} {}", tops[i].first.str(), tops[i].second));
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

int run_stats(const StatsOptions& o) {
  if (!o.common.netns.empty()) enter_netns(o.common.netns, "--netns");
  FlowSource source(Backend::automatic);
  std::optional<TableCount> count;
  std::optional<ConntrackCpuStats> kernel;
  if (auto* k = source.kernel()) {
    count = k->count();
    kernel = k->cpu_stats();
  } else {
    count = proc_table_count();
  }
  if (!count) throw Fatal(Exit::environment, "conntrack is not loaded in this namespace (no nf_conntrack_count)");

  Breakdown b;
  const FlowFilter& filter = o.common.filter;
  source.dump([&](const Flow& f) {
    if (!filter.matches(f)) return true;
    ++b.matched;
    b.assured += f.assured;
    b.unreplied += f.unreplied;
    ++b.by_proto[proto_label(f.proto)];
    if (!f.state.empty()) ++b.by_state[std::string(f.state)];
    ++b.by_source[f.orig.src];
    return true;
  });
  const bool filtered = filter.proto || filter.src || filter.dst || filter.sport || filter.dport || filter.state ||
                        filter.mark || filter.nat;
  if (o.common.json) print_json(*count, kernel, b, o.top);
  else print_human(*count, kernel, b, o.top, filtered);
  std::fflush(stdout);

  if (o.warn_pct && fill_pct(*count) > *o.warn_pct) {
    std::fprintf(stderr, "edge: conntrack table is %s full (%llu of %llu), above --warn %g\n", pct_text(fill_pct(*count)).c_str(),
                 (unsigned long long)count->entries, (unsigned long long)count->max, *o.warn_pct);
    return int(Exit::failed);
  }
  return 0;
}

}  // namespace edge::conntrack
