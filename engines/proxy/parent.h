// --parent: the upstream proxy `edge proxy` chains to, an HTTP proxy (absolute-form requests
// and CONNECT, credentials sent on every request) or a SOCKS5 one (user/password per RFC 1929),
// and --no-parent-for (curl's no_proxy rules). edge still judges every destination itself
// before it asks the parent; the parent is the operator's own and is not judged.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/duration.h"
#include "core/flow/proxy_error.h"
#include "core/net/upstream.h"
#include "core/trace/proxy_env.h"

namespace edge::proxy {

struct Parent {
  ProxyUrl url;                   // scheme http, socks5 or socks5h
  std::vector<IpAddr> addresses;  // resolved once, at start
  std::string authorization;      // "Basic ..." for an HTTP parent with a user, else ""
  std::string no_parent_for;      // a no_proxy list
  std::string name;               // "host:port", for messages

  bool http() const { return url.scheme == "http"; }
  // Whether a destination goes through the parent (it is not in --no-parent-for).
  bool applies_to(std::string_view host) const { return !curl_no_proxy_match(no_parent_for, host); }
};

// From the flags; a usage error names the flag and the value (the password masked). The
// parent's name is resolved here: one that does not resolve is an error at start.
Parent make_parent(const std::string& url, const std::vector<std::string>& no_parent_for, Millis timeout);

// A connection to the parent, dialed (for absolute-form requests through an HTTP parent).
boost::asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> dial_parent(const Parent& p, Millis timeout);

// A tunnel to host:port through the parent: CONNECT, or SOCKS5 CONNECT with the name as
// given. Bytes the parent sent after its answer stay in the upstream's buffer. Failures are
// 502s naming the parent and what it answered.
boost::asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> tunnel_via(const Parent& p, const std::string& host, uint16_t port,
                                                                                    Millis timeout);

}  // namespace edge::proxy
