// `edge conntrack list`: stream the kernel table through the filters to a table or JSON.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/base/errors.h"
#include "core/base/netns.h"
#include "core/conntrack/kernel_table.h"
#include "core/conntrack/proc_table.h"
#include "core/out/flow_json.h"
#include "core/out/flow_text.h"
#include "engines/conntrack/options.h"
#include "engines/conntrack/source.h"

namespace edge::conntrack {
namespace {

uint64_t total_packets(const Flow& f) {
  return f.orig_counters ? f.orig_counters->packets + f.reply_counters->packets : 0;
}
uint64_t total_bytes(const Flow& f) { return f.orig_counters ? f.orig_counters->bytes + f.reply_counters->bytes : 0; }

bool less_by(SortField s, const Flow& a, const Flow& b) {
  switch (s) {
    case SortField::proto: return a.proto < b.proto;
    case SortField::state: return a.state < b.state;
    case SortField::src: return a.orig.src < b.orig.src;
    case SortField::dst: return a.orig.dst < b.orig.dst;
    case SortField::sport: return a.orig.sport < b.orig.sport;
    case SortField::dport: return a.orig.dport < b.orig.dport;
    case SortField::timeout: return a.timeout < b.timeout;
    case SortField::mark: return a.mark < b.mark;
    // Biggest first: the question behind sorting by traffic is "who is heavy".
    case SortField::packets: return total_packets(a) > total_packets(b);
    case SortField::bytes: return total_bytes(a) > total_bytes(b);
    case SortField::none: return false;
  }
  return false;
}

// One sink for both output formats, so the dump loop does not care which is chosen.
class Printer {
 public:
  Printer(bool json, bool counters) : counters_(counters) {
    if (json) json_.emplace(stdout, JsonFlowWriter::Mode::array);
    else table_.emplace(stdout, flow_columns(counters));
  }
  void print(const Flow& f) {
    if (json_) return json_->write(f);
    flow_cells(f, counters_, cells_);
    table_->row(cells_);
  }

 private:
  bool counters_;
  std::optional<JsonFlowWriter> json_;
  std::optional<TableWriter> table_;
  std::vector<std::string> cells_;
};

}  // namespace

int run_list(const ListOptions& o) {
  if (!o.common.netns.empty()) enter_netns(o.common.netns, "--netns");
  FlowSource source(o.backend, o.origin);
  Printer printer(o.common.json, accounting_enabled() || o.origin != Origin::kernel);
  const FlowFilter& filter = o.common.filter;

  if (o.sort == SortField::none) {
    uint64_t printed = 0;
    source.dump([&](const Flow& f) {
      if (!filter.matches(f)) return true;
      printer.print(f);
      return o.limit == 0 || ++printed < o.limit;
    });
    return 0;
  }
  std::vector<Flow> flows;
  source.dump([&](const Flow& f) {
    if (filter.matches(f)) flows.push_back(f);
    return true;
  });
  auto cmp = [&](const Flow& a, const Flow& b) { return o.reverse ? less_by(o.sort, b, a) : less_by(o.sort, a, b); };
  const size_t n = o.limit ? std::min<size_t>(o.limit, flows.size()) : flows.size();
  std::partial_sort(flows.begin(), flows.begin() + n, flows.end(), cmp);
  for (size_t i = 0; i < n; ++i) printer.print(flows[i]);
  return 0;
}

Parsed<SortField> parse_sort_field(std::string_view t) {
  static constexpr std::pair<std::string_view, SortField> kFields[] = {
      {"proto", SortField::proto},     {"state", SortField::state}, {"src", SortField::src},
      {"dst", SortField::dst},         {"sport", SortField::sport}, {"dport", SortField::dport},
      {"timeout", SortField::timeout}, {"mark", SortField::mark},   {"packets", SortField::packets},
      {"bytes", SortField::bytes}};
  for (auto& [name, f] : kFields)
    if (name == t) return f;
  return std::string("is not a sort field (expected proto, state, src, dst, sport, dport, timeout, mark, packets or bytes)");
}

}  // namespace edge::conntrack
