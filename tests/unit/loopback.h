// Real TCP connections for unit tests of code that holds sockets: pairs connected over
// 127.0.0.1 on one io_context, and a bounded wait for a descriptor to become readable.
#pragma once
#include <poll.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <utility>

namespace edge::test {

struct Loopback {
  using tcp = boost::asio::ip::tcp;
  boost::asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)};

  // A connected pair: {the side that connected, the side that was accepted}.
  std::pair<tcp::socket, tcp::socket> pair() {
    tcp::socket client(io), accepted(io);
    client.connect(acceptor.local_endpoint());
    acceptor.accept(accepted);
    return {std::move(client), std::move(accepted)};
  }
};

// Whether fd becomes readable (bytes, an end or an error) within a second: the kernel's
// loopback delivery is not promised to be done when the writer's call returns.
inline bool readable(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 1000) == 1;
}

// Whether the peer of `s` closed: it reads an end of stream (never blocks).
inline bool peer_closed(boost::asio::ip::tcp::socket& s) {
  if (!readable(s.native_handle())) return false;
  s.non_blocking(true);
  char c;
  boost::system::error_code ec;
  s.read_some(boost::asio::buffer(&c, 1), ec);
  return ec == boost::asio::error::eof;
}

}  // namespace edge::test
