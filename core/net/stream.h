// A TCP connection that may carry TLS: one stream type for every proxy path, so the HTTP code
// is written once and TLS is decided per connection at run time (a listener with
// --tls-cert, a backend with --upstream-tls). Timeouts are Beast's tcp_stream timeouts, and
// apply to TLS reads and writes too (they go through it). Not movable: the TLS layer refers
// to the TCP stream beneath it; hold it where it is made, or in a unique_ptr.
#pragma once
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>

#include "core/base/duration.h"

namespace edge {

class Stream {
 public:
  using tcp = boost::asio::ip::tcp;
  using Tls = boost::asio::ssl::stream<boost::beast::tcp_stream&>;
  using executor_type = boost::beast::tcp_stream::executor_type;

  explicit Stream(tcp::socket s) : tcp_(std::move(s)) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  executor_type get_executor() { return tcp_.get_executor(); }
  tcp::socket& socket() { return tcp_.socket(); }
  boost::beast::tcp_stream& tcp_stream() { return tcp_; }
  // Non-null once TLS was started: the handshake, SNI and verification go through it.
  Tls* tls() { return tls_.get(); }
  Tls& start_tls(boost::asio::ssl::context& ctx) {
    tls_ = std::make_unique<Tls>(tcp_, ctx);
    return *tls_;
  }
  void expires_after(Millis d) { tcp_.expires_after(d); }
  void expires_never() { tcp_.expires_never(); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& bufs) {
          if (tls_) tls_->async_read_some(bufs, std::move(handler));
          else tcp_.async_read_some(bufs, std::move(handler));
        },
        token, b);
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& bufs) {
          if (tls_) tls_->async_write_some(bufs, std::move(handler));
          else tcp_.async_write_some(bufs, std::move(handler));
        },
        token, b);
  }

 private:
  boost::beast::tcp_stream tcp_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace edge
