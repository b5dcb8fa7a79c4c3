// Choosing and reading the flow source.
#include "engines/conntrack/source.h"

#include <cstdio>

#include "core/base/errors.h"
#include "core/conntrack/proc_table.h"
#include "core/control/control.h"

namespace edge::conntrack {
FlowSource::FlowSource(Backend b, Origin origin)
    : kernel_flows_(origin != Origin::edge), edge_flows_(origin != Origin::kernel) {
  if (!kernel_flows_) return;  // edge's own flows need no privilege and no netlink
  if (b == Backend::proc) {
    if (!proc_table_available())
      throw Fatal(Exit::environment, "--backend proc: /proc/net/nf_conntrack does not exist (kernel built without CONFIG_NF_CONNTRACK_PROCFS, or conntrack not loaded)");
    return;
  }
  try {
    kernel_.emplace(KernelTable::open());
  } catch (const Fatal& e) {
    if (b == Backend::netlink || e.code() != Exit::environment || !proc_table_available()) throw;
    std::fprintf(stderr, "edge: %s; reading /proc/net/nf_conntrack instead\n", e.what());
  }
}

void FlowSource::dump(const std::function<bool(const Flow&)>& each) {
  if (kernel_flows_) {
    if (kernel_) kernel_->dump(each);
    else proc_table_dump(each);
  }
  if (edge_flows_)
    for (const Flow& f : read_edge_flows())
      if (!each(f)) return;
}

bool accounting_enabled() {
  std::FILE* f = std::fopen("/proc/sys/net/netfilter/nf_conntrack_acct", "re");
  if (!f) return false;
  int v = 0;
  const bool ok = std::fscanf(f, "%d", &v) == 1;
  std::fclose(f);
  return ok && v != 0;
}

}  // namespace edge::conntrack
