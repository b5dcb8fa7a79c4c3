// splice(2) relay: socket -> pipe -> socket per direction, readiness from Asio, a watchdog
// for the idle timeout.
#include "core/net/relay.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <vector>

#include "core/base/fd.h"
#include "core/net/ready_batch.h"
#include "core/net/stream.h"

namespace edge {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kPipeSize = 1 << 20;

struct Pipe {
  UniqueFd r, w;
  static std::unique_ptr<Pipe> make() {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return nullptr;
    auto p = std::make_unique<Pipe>();
    p->r.reset(fds[0]);
    p->w.reset(fds[1]);
    fcntl(fds[1], F_SETPIPE_SZ, int(kPipeSize));  // best effort: larger moves per call
    return p;
  }
};

// One direction with splice; returns when `from` ended (or either side failed).
asio::awaitable<void> splice_one_way(tcp::socket& from, tcp::socket& to, Pipe& pipe, uint64_t& bytes, Clock::time_point& last) {
  boost::system::error_code ec;
  while (true) {
    ssize_t in = splice(from.native_handle(), nullptr, pipe.w.get(), nullptr, kPipeSize, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (in < 0 && errno == EAGAIN) {
      auto [e] = co_await from.async_wait(tcp::socket::wait_read, nothrow);
      if (e) break;
      continue;
    }
    if (in <= 0) break;  // 0: end of stream; < 0: an error
    last = Clock::now();
    size_t pending = size_t(in);
    while (pending > 0) {
      ssize_t out = splice(pipe.r.get(), nullptr, to.native_handle(), nullptr, pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (out < 0 && errno == EAGAIN) {
        auto [e] = co_await to.async_wait(tcp::socket::wait_write, nothrow);
        if (e) co_return;
        continue;
      }
      if (out <= 0) co_return;
      pending -= size_t(out);
      bytes += uint64_t(out);
    }
  }
  to.shutdown(tcp::socket::shutdown_send, ec);  // pass the end of stream on
}

// Buffered: plain sockets without a pipe, or streams where TLS must see the bytes. A TLS end
// of stream is passed on as a TCP half-close (close_notify cannot be half of a connection).
template <class From, class To>
asio::awaitable<void> copy_one_way(From& from, To& to, uint64_t& bytes, Clock::time_point& last) {
  std::vector<char> buf(64 * 1024);
  boost::system::error_code ec;
  while (true) {
    auto [e, n] = co_await from.async_read_some(asio::buffer(buf), nothrow);
    if (e) break;
    last = Clock::now();
    auto [w, m] = co_await asio::async_write(to, asio::buffer(buf.data(), n), nothrow);
    if (w) co_return;
    bytes += n;
  }
  if constexpr (std::is_same_v<To, Stream>) to.socket().shutdown(tcp::socket::shutdown_send, ec);
  else to.shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> watchdog(const Clock::time_point& last, Millis idle) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  while (true) {
    t.expires_after(std::min(idle, Millis(500)));
    co_await t.async_wait(nothrow);
    if (Clock::now() - last > idle) co_return;
  }
}

}  // namespace

namespace {
// A thread's idle body pipes: making one is two descriptors and a fcntl, too dear per request.
constexpr size_t kBodyPipeSize = 256 * 1024;
// Moved per turn, then the thread's other connections run: larger pieces saved little CPU and
// made a loaded thread's p99 worse (many 1 MiB uploads at once).
constexpr size_t kSplicePiece = 64 * 1024;
constexpr size_t kPooledPipes = 64;
std::vector<std::unique_ptr<Pipe>>& body_pipes() {
  thread_local std::vector<std::unique_ptr<Pipe>> pool;
  return pool;
}
std::unique_ptr<Pipe> take_body_pipe() {
  auto& pool = body_pipes();
  if (!pool.empty()) {
    auto p = std::move(pool.back());
    pool.pop_back();
    return p;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return nullptr;
  auto p = std::make_unique<Pipe>();
  p->r.reset(fds[0]);
  p->w.reset(fds[1]);
  fcntl(fds[1], F_SETPIPE_SZ, int(kBodyPipeSize));  // best effort: the default 64 KiB works too
  return p;
}
}  // namespace

asio::awaitable<SpliceResult> splice_exactly(Stream& from, Stream& to, uint64_t n, Millis idle, uint64_t& bytes) {
  SpliceResult r;
  auto pipe = take_body_pipe();
  if (!pipe) {
    r.ec = boost::system::error_code(errno, boost::system::system_category());
    co_return r;
  }
  size_t pending = 0;  // in the pipe, not yet written
  while (n > 0 || pending > 0) {
    if (pending == 0) {
      const ssize_t in = splice(from.socket().native_handle(), nullptr, pipe->w.get(), nullptr, size_t(std::min<uint64_t>(n, kSplicePiece)),
                                SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (in < 0 && errno == EAGAIN) {
        from.expires_after(idle);
        auto [e] = co_await from.async_wait(tcp::socket::wait_read, nothrow);
        if (e) {
          r = {e, true};
          break;
        }
        continue;
      }
      if (in <= 0) {
        r = {in == 0 ? boost::system::error_code(asio::error::eof) : boost::system::error_code(errno, boost::system::system_category()), true};
        break;
      }
      pending = size_t(in);
      n -= uint64_t(in);
    }
    const ssize_t out = splice(pipe->r.get(), nullptr, to.socket().native_handle(), nullptr, pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (out < 0 && errno == EAGAIN) {
      to.expires_after(idle);
      auto [e] = co_await to.async_wait(tcp::socket::wait_write, nothrow);
      if (e) {
        r = {e, false};
        break;
      }
      continue;
    }
    if (out <= 0) {
      r = {boost::system::error_code(out == 0 ? EPIPE : errno, boost::system::system_category()), false};
      break;
    }
    pending -= size_t(out);
    bytes += uint64_t(out);
    // A fast sender would keep this loop going piece after piece: after each one, the
    // thread's other connections get their turn (a large upload must not hold up small
    // requests' latency).
    if (pending == 0 && n > 0) co_await let_ready_run();
  }
  if (pending == 0 && body_pipes().size() < kPooledPipes) body_pipes().push_back(std::move(pipe));
  co_return r;
}

asio::awaitable<RelayBytes> relay(tcp::socket& a, tcp::socket& b, Millis idle) {
  RelayBytes bytes;
  Clock::time_point last = Clock::now();
  boost::system::error_code ec;
  a.non_blocking(true, ec);
  b.non_blocking(true, ec);
  auto ab = Pipe::make(), ba = Pipe::make();
  if (ab && ba) {
    co_await ((splice_one_way(a, b, *ab, bytes.a_to_b, last) && splice_one_way(b, a, *ba, bytes.b_to_a, last)) || watchdog(last, idle));
  } else {
    co_await ((copy_one_way(a, b, bytes.a_to_b, last) && copy_one_way(b, a, bytes.b_to_a, last)) || watchdog(last, idle));
  }
  co_return bytes;
}

asio::awaitable<RelayBytes> relay(Stream& a, Stream& b, Millis idle) {
  if (!a.tls() && !b.tls()) co_return co_await relay(a.socket(), b.socket(), idle);
  a.expires_never();
  b.expires_never();
  RelayBytes bytes;
  Clock::time_point last = Clock::now();
  co_await ((copy_one_way(a, b, bytes.a_to_b, last) && copy_one_way(b, a, bytes.b_to_a, last)) || watchdog(last, idle));
  co_return bytes;
}

}  // namespace edge
