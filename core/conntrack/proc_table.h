// The conntrack table through /proc: the fallback when ctnetlink is unavailable, and the
// sysctl files for count and limit. Slower and without ids or NAT status bits, but needs no
// netlink module.
#pragma once
#include <functional>
#include <optional>

#include "core/conntrack/kernel_table.h"
#include "core/flow/flow.h"

namespace edge {

// False when /proc/net/nf_conntrack does not exist (no CONFIG_NF_CONNTRACK_PROCFS).
bool proc_table_available();
// Streams every parsable line; returns the number of lines that were not flows.
// `each` returns false to stop.
size_t proc_table_dump(const std::function<bool(const Flow&)>& each);
// nf_conntrack_count (this namespace) and nf_conntrack_max; nullopt when conntrack is not loaded.
std::optional<TableCount> proc_table_count();

}  // namespace edge
