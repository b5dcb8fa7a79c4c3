// A yield point for proxy coroutines: let the thread's other ready connections run first, then
// go on, so that the messages one wake-up produced leave together (see let_ready_run()).
#pragma once
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>
#include <vector>

namespace edge {

// Lets the thread's other ready connections run before this one goes on: co_await it just
// before sending a request upstream or a response back. The messages of one wake-up then leave
// together, and the peer (a backend, a client) serves them in one pass of its loop instead of
// sleeping and being woken once per message. Measured against writing at once: 1 KiB
// responses +15% requests/s, tiny ones -5% (the proxy's own CPU is the limit there). The waiting coroutines' handlers are kept in a per-thread list and
// one posted flush resumes them all, in order: one trip through the scheduler per batch.
namespace detail {
template <class Handler>
std::vector<Handler>& ready_waiters() {
  thread_local std::vector<Handler> list;
  return list;
}
// The posted flush. Destroyed unrun (the io_context going away), it takes the waiting
// handlers, and so their coroutines, with it, as Asio does with any pending operation. (A
// worker thread's list goes with the thread, after its loop stopped and before the runtime
// destroys the contexts; the destructor then clears the destroying thread's list, the first
// context's.)
template <class Handler>
struct ReadyFlush {
  bool armed = true;
  ReadyFlush() = default;
  ReadyFlush(ReadyFlush&& o) noexcept : armed(std::exchange(o.armed, false)) {}
  ReadyFlush& operator=(ReadyFlush&&) = delete;
  ~ReadyFlush() {
    if (armed) ready_waiters<Handler>().clear();
  }
  void operator()() {
    armed = false;
    thread_local std::vector<Handler> batch;  // capacity kept: no allocation per flush
    batch.swap(ready_waiters<Handler>());     // those that yield again join the next flush
    for (auto& h : batch) std::move(h)();
    batch.clear();
  }
};
}  // namespace detail

inline auto let_ready_run() {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
      [](auto handler) {
        using Handler = decltype(handler);
        auto& list = detail::ready_waiters<Handler>();
        if (list.empty()) boost::asio::post(boost::asio::get_associated_executor(handler), detail::ReadyFlush<Handler>{});
        list.push_back(std::move(handler));
      },
      boost::asio::use_awaitable);
}

}  // namespace edge
