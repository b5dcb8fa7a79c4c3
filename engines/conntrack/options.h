// What `edge conntrack` was asked to do: plain structs that cmd/ fills from flags. The
// engine entry points below are the whole interface between the CLI and the conntrack engine.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/base/duration.h"
#include "core/flow/filter.h"

namespace edge::conntrack {

struct CommonOptions {
  FlowFilter filter;
  std::string netns;  // empty: the current namespace
  bool json = false;
};

enum class Backend { automatic, netlink, proc };
enum class Origin { kernel, edge, all };
enum class SortField { none, proto, state, src, dst, sport, dport, timeout, mark, packets, bytes };

struct ListOptions {
  CommonOptions common;
  Backend backend = Backend::automatic;
  Origin origin = Origin::kernel;
  SortField sort = SortField::none;
  bool reverse = false;
  uint64_t limit = 0;  // 0: no limit
};

struct StatsOptions {
  CommonOptions common;
  std::optional<double> warn_pct;
  unsigned top = 5;
};

struct WatchOptions {
  CommonOptions common;
  unsigned events = 7;  // kEventNew | kEventUpdate | kEventDestroy
  std::optional<uint64_t> count;
  std::optional<Millis> timeout;
  int buffer_bytes = 8 << 20;
};

Parsed<SortField> parse_sort_field(std::string_view text);
Parsed<unsigned> parse_event_mask(std::string_view text);  // "new,update,destroy"

// Each returns the process exit code; failures users must see are thrown as edge::Fatal.
int run_list(const ListOptions& o);
int run_stats(const StatsOptions& o);
int run_watch(const WatchOptions& o);

}  // namespace edge::conntrack
