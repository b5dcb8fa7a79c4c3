// The kernel engine's rules as text: the nftables script edge loads (one transaction, one table
// of its own) and the iptables commands that would do the same, for --dry-run. Pure functions
// of the rules, so the exact text is unit-tested.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/net/addr.h"
#include "engines/nat/options.h"

namespace edge::nat {

// Where a --hairpin rule's clients are: the interface and subnet of the target's own network.
struct HairpinNet {
  std::string iface;
  Cidr subnet;
};

struct RulesetParams {
  std::string table;   // e.g. edge_nat_1234
  uint32_t mark = 0;   // conntrack mark this instance sets on its flows
  bool owner = true;   // the kernel removes the table when edge's netlink socket closes
  std::vector<std::optional<HairpinNet>> hairpin;  // one per dnat rule (nullopt: no --hairpin)
};

std::string nft_script(const Options& o, const RulesetParams& p);
std::string iptables_script(const Options& o, const RulesetParams& p);

// This instance's conntrack mark: 0xED in the top byte, the pid below. Flows carrying a mark of
// that shape belong to the edge nat of that pid.
// A persisted table's flows carry 0xEE instead: no start-up sweep touches them (their pid is
// gone on purpose); `edge nat flush` deletes them with the table.
constexpr uint32_t kMarkTag = 0xED000000, kPersistTag = 0xEE000000, kMarkTagMask = 0xFF000000;
inline uint32_t mark_for_pid(uint32_t pid, bool persist = false) { return (persist ? kPersistTag : kMarkTag) | (pid & 0x00FFFFFF); }

}  // namespace edge::nat
