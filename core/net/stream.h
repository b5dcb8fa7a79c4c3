// A TCP connection that may carry TLS: one stream type for every proxy path, so the HTTP code
// is written once and TLS is decided per connection at run time (a listener with
// --tls-cert, a backend with --upstream-tls). Timeouts: expires_after() arms a deadline in
// the thread's Deadlines list (core/net/deadlines.h); when it passes, the socket's pending
// operations are cancelled and complete with beast::error::timeout, as with Beast's
// tcp_stream, without an Asio timer per operation. Not movable: the TLS layer refers to the
// socket beneath it; hold it where it is made, or in a unique_ptr.
#pragma once
#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/error.hpp>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <memory>

#include "core/base/duration.h"
#include "core/net/deadlines.h"

namespace edge {

class Stream : Deadlines::Entry {
 public:
  using tcp = boost::asio::ip::tcp;
  using Tls = boost::asio::ssl::stream<tcp::socket&>;
  using executor_type = tcp::socket::executor_type;

  explicit Stream(tcp::socket s) : sock_(std::move(s)) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() = default;

  executor_type get_executor() { return sock_.get_executor(); }
  tcp::socket& socket() { return sock_; }
  // Non-null once TLS was started: the handshake, SNI and verification go through it.
  Tls* tls() { return tls_.get(); }
  Tls& start_tls(boost::asio::ssl::context& ctx) {
    tls_ = std::make_unique<Tls>(sock_, ctx);
    return *tls_;
  }
  void expires_after(Millis d) {
    timed_out_ = false;
    arm(Deadlines::base() + d);
  }
  void expires_never() {
    timed_out_ = false;
    disarm();
  }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& bufs) {
          if (timed_out_) return expired_now(std::move(handler));
          TimeoutAware<decltype(handler)> h{this, std::move(handler)};
          if (tls_) tls_->async_read_some(bufs, std::move(h));
          else sock_.async_read_some(bufs, std::move(h));
        },
        token, b);
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& bufs) {
          if (timed_out_) return expired_now(std::move(handler));
          TimeoutAware<decltype(handler)> h{this, std::move(handler)};
          if (tls_) tls_->async_write_some(bufs, std::move(h));
          else sock_.async_write_some(bufs, std::move(h));
        },
        token, b);
  }
  // Waits until the plain socket is readable or writable (for splice(2), which moves the bytes
  // itself), under the same deadline.
  template <class Token>
  auto async_wait(tcp::socket::wait_type what, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, what](auto handler) {
          if (timed_out_) {
            boost::asio::post(sock_.get_executor(), boost::asio::append(std::move(handler), boost::system::error_code(boost::beast::error::timeout)));
            return;
          }
          sock_.async_wait(what, TimeoutAware<decltype(handler)>{this, std::move(handler)});
        },
        token);
  }

  // Writes what a plain TCP socket takes at once, without suspending: a request or response
  // that fits the socket buffer (the common case) costs one sendmsg and no trip through the
  // scheduler. Returns the bytes written (0 with TLS, where the record layer must do it, or
  // when the socket is full); `ec` is set only for a real error. The caller writes the rest
  // with async_write. Never while another write on this stream is pending.
  template <class ConstBuffers>
  size_t write_now(const ConstBuffers& bufs, boost::system::error_code& ec) {
    if (tls_ || timed_out_) return 0;
    std::array<iovec, 4> iov{};
    size_t n = 0, total = 0;
    for (auto it = boost::asio::buffer_sequence_begin(bufs); it != boost::asio::buffer_sequence_end(bufs) && n < iov.size(); ++it) {
      const boost::asio::const_buffer b(*it);
      if (b.size() == 0) continue;
      iov[n++] = {const_cast<void*>(b.data()), b.size()};
      total += b.size();
    }
    if (total == 0) return 0;
    // send(2) for one buffer: sendmsg(2) copies a msghdr and an iovec array in first.
    msghdr m{};
    m.msg_iov = iov.data();
    m.msg_iovlen = n;
    const ssize_t sent = n == 1 ? ::send(sock_.native_handle(), iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL)
                                : ::sendmsg(sock_.native_handle(), &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent >= 0) return size_t(sent);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ec.assign(errno, boost::asio::error::get_system_category());
    return 0;
  }

  // The TLS handshake (after start_tls), under the same deadline.
  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, type](auto handler) {
          if (timed_out_) {
            boost::asio::post(sock_.get_executor(), boost::asio::append(std::move(handler), boost::system::error_code(boost::beast::error::timeout)));
            return;
          }
          tls_->async_handshake(type, [this, h = std::move(handler)](boost::system::error_code ec) mutable {
            if (ec == boost::asio::error::operation_aborted && timed_out_) ec = boost::beast::error::timeout;
            std::move(h)(ec);
          });
        },
        token);
  }

 private:
  // The completion handler with a cancelled operation reported as a timeout when the deadline
  // cancelled it; keeps the wrapped handler's executor, allocator and cancellation slot (the
  // awaitable operators rely on the slot).
  template <class Handler>
  struct TimeoutAware {
    Stream* s;
    Handler h;
    using executor_type = boost::asio::associated_executor_t<Handler, Stream::executor_type>;
    executor_type get_executor() const noexcept { return boost::asio::get_associated_executor(h, s->get_executor()); }
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept { return boost::asio::get_associated_allocator(h); }
    using cancellation_slot_type = boost::asio::associated_cancellation_slot_t<Handler>;
    cancellation_slot_type get_cancellation_slot() const noexcept { return boost::asio::get_associated_cancellation_slot(h); }
    void operator()(boost::system::error_code ec, size_t n) {
      if (ec == boost::asio::error::operation_aborted && s->timed_out_) ec = boost::beast::error::timeout;
      std::move(h)(ec, n);
    }
    void operator()(boost::system::error_code ec) {
      if (ec == boost::asio::error::operation_aborted && s->timed_out_) ec = boost::beast::error::timeout;
      std::move(h)(ec);
    }
  };

  // An operation started after the deadline fired fails at once, as with Beast's tcp_stream
  // (else it would run unbounded: the sweep cancels only what is pending when it runs).
  template <class Handler>
  void expired_now(Handler handler) {
    boost::asio::post(sock_.get_executor(), boost::asio::append(std::move(handler), boost::system::error_code(boost::beast::error::timeout), size_t(0)));
  }

  void expire() override {
    timed_out_ = true;
    boost::system::error_code ignored;
    sock_.cancel(ignored);
  }

  tcp::socket sock_;
  std::unique_ptr<Tls> tls_;
  bool timed_out_ = false;
};

}  // namespace edge
