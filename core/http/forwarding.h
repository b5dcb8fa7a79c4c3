// What a reverse proxy changes in a request before passing it on: hop-by-hop headers out
// (including those the client's Connection names, but never framing or forwarding headers),
// forwarding headers in (X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Host,
// Via), client-sent forwarding headers ignored unless the peer is trusted.
#pragma once
#include "core/http/fields.h"
#include <string>
#include <vector>

#include "core/net/addr.h"

namespace edge::http {

struct ForwardingContext {
  IpAddr client;                 // the peer that connected to us
  bool client_trusted = false;   // the peer is in --trust-proxy: keep and extend its X-Forwarded-*
  std::string_view proto = "http";    // what the client spoke to us
  std::string_view via = "1.1 edge";  // our Via entry (outlives the call)
};

// Removes hop-by-hop headers: the fixed list (RFC 9110 7.6.1) and any named in Connection,
// except names whose removal would change framing or forwarding (Content-Length,
// Transfer-Encoding, Host, X-Forwarded-*, Forwarded, Via). Keeps Upgrade when asked (WebSocket).
void strip_hop_by_hop(Fields& h, bool keep_upgrade);

// Sets the forwarding headers for the backend.
void add_forwarding(Fields& h, const ForwardingContext& ctx);

// This process's name for Via ("edge-3f9a2c1d"): random per process, so a request that comes
// back to the same proxy is recognised (via_names) while a chain of different edges is not.
std::string via_token();

// Whether a Via header already lists `by` as a receiving proxy (a loop, when `by` is this
// process's own token).
bool via_names(const Fields& h, std::string_view by);

}  // namespace edge::http
