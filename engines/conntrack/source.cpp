// Choosing and reading the flow source.
#include "engines/conntrack/source.h"

#include <cstdio>

#include "core/base/errors.h"
#include "core/conntrack/proc_table.h"

namespace edge::conntrack {
FlowSource::FlowSource(Backend b) {
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
  if (kernel_) kernel_->dump(each);
  else proc_table_dump(each);
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
