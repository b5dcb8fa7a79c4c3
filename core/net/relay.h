// The relay: bytes both ways between two connected TCP sockets until both directions have
// ended (each end of stream is passed on as a half-close), or nothing moved for `idle`.
// Between plain sockets the bytes go through a pipe with splice(2) and never enter user
// space; where a pipe cannot be made, or either side speaks TLS, a buffered copy does the same
// job. Used by every L4 path (edge rproxy --mode tcp, upgraded HTTP connections).
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>

#include "core/base/duration.h"

namespace edge {

struct RelayBytes {
  uint64_t a_to_b = 0, b_to_a = 0;
};

boost::asio::awaitable<RelayBytes> relay(boost::asio::ip::tcp::socket& a, boost::asio::ip::tcp::socket& b, Millis idle);
// The same between two streams, either of which may carry TLS (splice when neither does).
class Stream;
boost::asio::awaitable<RelayBytes> relay(Stream& a, Stream& b, Millis idle);

// Exactly `n` bytes from `from` to `to`, two plain TCP streams, through a pipe with splice(2):
// a length-framed HTTP body that never enters user space. Each wait is under `idle` (the
// streams' deadlines). `bytes` counts what reached `to`. The pipe comes from a per-thread
// pool and goes back empty; one left holding bytes (a failed write) is closed.
struct SpliceResult {
  boost::system::error_code ec;  // end of stream before n bytes: boost::asio::error::eof
  bool reading_failed = false;   // the failure was on `from`'s side
};
boost::asio::awaitable<SpliceResult> splice_exactly(Stream& from, Stream& to, uint64_t n, Millis idle, uint64_t& bytes);

}  // namespace edge
