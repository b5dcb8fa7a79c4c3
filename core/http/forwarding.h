// What a reverse proxy changes in a request before passing it on: hop-by-hop headers out
// (including those the client's Connection names, but never framing or forwarding headers),
// forwarding headers in (X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Host,
// Via), client-sent forwarding headers ignored unless the peer is trusted.
#pragma once
#include <boost/beast/http/fields.hpp>
#include <string>
#include <vector>

#include "core/net/addr.h"

namespace edge::http {

struct ForwardingContext {
  IpAddr client;                 // the peer that connected to us
  bool client_trusted = false;   // the peer is in --trust-proxy: keep and extend its X-Forwarded-*
  std::string proto = "http";    // what the client spoke to us
  std::string via = "1.1 edge";  // our Via entry
};

// Removes hop-by-hop headers: the fixed list (RFC 9110 7.6.1) and any named in Connection,
// except names whose removal would change framing or forwarding (Content-Length,
// Transfer-Encoding, Host, X-Forwarded-*, Forwarded, Via). Keeps Upgrade when asked (WebSocket).
void strip_hop_by_hop(boost::beast::http::fields& h, bool keep_upgrade);

// Sets the forwarding headers for the backend.
void add_forwarding(boost::beast::http::fields& h, const ForwardingContext& ctx);

// The request header checks that keep an ambiguous message from being passed on (request
// smuggling): returns an empty string when fine, else why the request must get a 400.
std::string framing_problem(const boost::beast::http::fields& h);

// Checks on the raw request head (request line and fields, up to and including the empty
// line) that a parser may silently repair: obs-fold continuation lines, a CR not followed by
// LF, a bare LF, NUL. Empty when fine, else why a 400.
std::string raw_head_problem(std::string_view head);

}  // namespace edge::http
