// Where the conntrack engine reads flows from: ctnetlink, or /proc when netlink is missing.
#pragma once
#include <functional>
#include <optional>

#include "core/conntrack/kernel_table.h"
#include "engines/conntrack/options.h"

namespace edge::conntrack {

class FlowSource {
 public:
  explicit FlowSource(Backend b, Origin origin = Origin::kernel);
  // `each` returns false to stop early (--limit).
  void dump(const std::function<bool(const Flow&)>& each);
  bool is_proc() const { return !kernel_; }
  KernelTable* kernel() { return kernel_ ? &*kernel_ : nullptr; }

 private:
  std::optional<KernelTable> kernel_;
  bool kernel_flows_ = true, edge_flows_ = false;
};

// nf_conntrack_acct=1: the kernel keeps per-flow packet and byte counters.
bool accounting_enabled();

}  // namespace edge::conntrack
