// A flow as one row of the human `edge conntrack` table.
#pragma once
#include <string>
#include <vector>

#include "core/flow/flow.h"
#include "core/out/table.h"

namespace edge {

// Columns: PROTO STATE FLOW NAT TIMEOUT MARK FLAGS [PKTS BYTES]; counters only when asked.
std::vector<Column> flow_columns(bool with_counters);
// Fills `cells` (reused between rows to keep allocations down).
void flow_cells(const Flow& f, bool with_counters, std::vector<std::string>& cells);

// "10.0.0.1:5353 -> 10.0.0.2:53", "[2001:db8::1]:80", ICMP as "a -> b echo id 7".
void append_endpoint(std::string& out, const IpAddr& a, uint16_t port, bool with_port);
// "SNAT 10.0.1.42 -> 52.1.2.3", "DNAT :443 -> 10.0.2.80:8443", both joined by ", ", or "".
std::string nat_text(const Flow& f);
// 1536 -> "1.5K", 3221225472 -> "3.0G"
std::string human_count(uint64_t n);

}  // namespace edge
