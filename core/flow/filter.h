// Flow filters with conntrack-tools' semantics: every field matches the ORIGINAL direction
// (-s/-d/--sport/--dport), all given fields must match, absent fields match everything.
#pragma once
#include <optional>
#include <string_view>

#include "core/flow/flow.h"
#include "core/net/addr.h"

namespace edge {

enum class NatFilter { snat, dnat, any };

struct FlowFilter {
  std::optional<uint8_t> proto;
  std::optional<Family> family;
  std::optional<Cidr> src, dst;
  std::optional<PortRange> sport, dport;
  std::optional<std::string_view> state;  // static storage from parse_tcp_state
  std::optional<uint32_t> mark, mark_mask;
  std::optional<NatFilter> nat;

  bool matches(const Flow& f) const;
};

// --mark VALUE[/MASK], decimal or 0x-hex, as conntrack-tools accepts it.
struct MarkMatch {
  uint32_t value = 0, mask = 0xffffffff;
};
Parsed<MarkMatch> parse_mark(std::string_view text);
Parsed<NatFilter> parse_nat_filter(std::string_view text);

}  // namespace edge
