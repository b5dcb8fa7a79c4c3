// What `edge trace` was asked to do; cmd/trace.cpp fills it from flags.
#pragma once
#include <optional>
#include <string>

#include "core/base/duration.h"
#include "core/net/addr.h"
#include "core/trace/target.h"

namespace edge::trace {

struct TraceOptions {
  Target target;
  std::optional<Family> family;  // -4 / -6
  Millis timeout{3000};          // per layer
  std::optional<std::string> proxy;  // --proxy URL | none
  std::string cacert;
  std::string cert, key;  // --cert / --key: client certificate
  std::string netns;
  bool json = false;
  bool hops = false;     // --hops: TTL-limited connects to find where packets die
  bool mtu = false;      // --mtu: read the whole response; on a stall, retry with a small MSS
  bool body = false;     // --body: read the whole response body and judge its end
  uint64_t max_body = 16 << 20;  // --max-body: read at most this much of it
  std::optional<int> follow;     // -L/--follow[=N]: follow up to N redirects
  std::string capture;   // --capture FILE: pcap of the probe's packets
};

// Returns the exit code: 0 when every layer passed, else the failed cause's code.
int run_trace(const TraceOptions& o);

}  // namespace edge::trace
