// The server side of a TLS connection for the proxies: the handshake with a client (and the
// plain-HTTP client that reached a TLS port, answered in plain HTTP as nginx does), and the
// close_notify goodbye, so a body framed by the close is not taken for a truncation.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <string>

#include "core/base/duration.h"
#include "core/net/stream.h"

namespace edge::tls {

struct Accepted {
  bool ok = false;
  bool plain_http = false;  // a plain HTTP request came: a 400 saying so was sent
  std::string why;          // when not ok: "timeout", "certificate unknown (alert 46)", ...
};

// The handshake, within `timeout`.
boost::asio::awaitable<Accepted> accept(Stream& client, boost::asio::ssl::context& ctx, Millis timeout);
// Sends close_notify on a TLS stream (nothing on a plain one); the peer's own is waited for
// only briefly.
boost::asio::awaitable<void> goodbye(Stream& s);

}  // namespace edge::tls
