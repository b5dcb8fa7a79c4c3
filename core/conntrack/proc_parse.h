// Parser for one line of /proc/net/nf_conntrack, the fallback source when ctnetlink is
// unavailable. The text comes from the kernel but is treated as untrusted: any malformed line
// yields an error, never a crash (it is a fuzz target).
#pragma once
#include <string_view>

#include "core/base/parsed.h"
#include "core/flow/flow.h"

namespace edge {

// Fills `out` (reused across lines to avoid allocation) or returns why the line is not a flow.
Parsed<void> parse_proc_conntrack_line(std::string_view line, Flow& out);

}  // namespace edge
