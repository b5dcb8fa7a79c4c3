// The proxy layer of `edge trace` through a SOCKS5 proxy (socks5:// and socks5h://): the
// greeting, the RFC 1929 user/password when the proxy URL carries one, and the CONNECT,
// classified by the proxy's own reply (refused by rule, host unreachable, auth failed).
#pragma once
#include <string>

#include "core/base/duration.h"
#include "core/trace/layer.h"
#include "core/trace/stream.h"

namespace edge::trace {

// `r` arrives with the proxy's TCP connect already recorded. `host` is the target as given:
// a name goes to the proxy as a name (the proxy resolves it: socks5h, and socks5 too, as edge
// trace's dns layer resolved the proxy, not the target), an address literal as an address.
LayerResult probe_socks5(LayerResult r, Stream& s, const std::string& host, uint16_t port, const std::string& user, const std::string& password,
                         Millis timeout);

}  // namespace edge::trace
