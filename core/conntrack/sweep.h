// Deleting conntrack entries: those an edge nat instance marked (at its exit, or a killed
// instance's at the next start), and those whose original tuple a new DNAT rule now matches
// (a UDP flow that began before the rule would otherwise keep bypassing it, as kube-proxy
// learnt). A dump then one DESTROY per entry on a second handle: libnetfilter_conntrack
// 1.0.9's filtered flush returns success and deletes nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>

#include "core/net/addr.h"

namespace edge {

// What a sweep decides on: the original direction and the mark.
struct CtEntry {
  uint8_t proto = 0;
  IpAddr orig_src, orig_dst;
  uint16_t orig_sport = 0, orig_dport = 0;
  uint32_t mark = 0;
};

struct MarkFilter {
  uint32_t value = 0, mask = 0xFFFFFFFF;
};

// Deletes the entries `match` accepts among those the kernel dumps (only marked ones when
// `filter` is given). Returns how many were deleted. Throws Fatal when ctnetlink cannot be
// opened (exit 3 without CAP_NET_ADMIN).
uint64_t delete_flows(const std::function<bool(const CtEntry&)>& match, std::optional<MarkFilter> filter = std::nullopt);

// How many entries carry this mark now.
uint64_t count_flows(MarkFilter filter);

}  // namespace edge
