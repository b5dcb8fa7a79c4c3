// One worker thread's client connections between requests (of any session handler on the
// core runtime, core/run/runtime.h), kept cheap (nginx's lesson: an idle
// keepalive connection should cost little more than its socket).
//  - A connection that just finished a request waits with its coroutine alive (a "waiter"):
//    the next request usually follows at once, and nothing is torn down.
//  - The sweeper (every few tens of ms) parks waiters idle past a grace period: the coroutine,
//    its buffers and Asio's per-socket state are freed, and only the descriptor and a few
//    bytes (Parked) remain, watched by an epoll set of the thread's own. Readable again, the
//    connection gets a fresh coroutine (take_ready).
//  - Timeouts (request head, keepalive) and the drain are applied here to both kinds, with
//    no timer per connection.
#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/flow/table.h"
#include "core/net/addr.h"

namespace edge::run {

class Idle {
 public:
  using Clock = std::chrono::steady_clock;

  struct Waiter {
    enum class Outcome { none, expired, park, drain };
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    boost::asio::ip::tcp::socket* sock = nullptr;  // its wait is cancelled to hand over the outcome
    Clock::time_point since;
    Clock::duration limit{};  // idle this long: expired
    bool parkable = false;    // plain connections only: TLS state cannot be parked
    Outcome outcome = Outcome::none;
  };

  struct Parked {
    IpAddr peer;
    uint8_t tag = 0;      // the session handler's own bits (rproxy: a trusted peer)
    bool served = false;  // has had a request (keepalive) or not (still within the head timeout)
    uint64_t flow = 0;    // its entry in the flow table, owned while parked
    Clock::time_point deadline;
  };

  Idle(FlowTable& flows, std::atomic<unsigned>& conns, Clock::duration grace);
  ~Idle();
  Idle(const Idle&) = delete;
  Idle& operator=(const Idle&) = delete;

  void wait_begin(Waiter& w);
  void wait_end(Waiter& w);
  // Expires and parks the waiters that are due (see the file comment). Returns how many
  // were told to park.
  size_t sweep_waiters(Clock::time_point now);
  // Closes the parked connections whose deadline passed (a scan of all: run it seldom).
  void expire_parked(Clock::time_point now);
  // Takes the socket's descriptor out of Asio into the parked set (counted in `conns`). When
  // it cannot be watched, the connection is closed and its flow removed.
  void park(boost::asio::ip::tcp::socket& sock, const Parked& p);
  // The epoll descriptor that becomes readable when a parked connection does.
  int epoll_fd() const { return epfd_; }
  // Parked connections with bytes (or an end) to read, out of the set: the caller starts a
  // session for each and owns descriptor, flow and its place in `conns` from here.
  std::vector<std::pair<int, Parked>> take_ready();
  // SIGTERM: every waiter is told to stop, every parked connection closed.
  void drain();
  size_t parked() const { return parked_.size(); }

 private:
  void close_parked(int fd, const Parked& p);

  FlowTable& flows_;
  std::atomic<unsigned>& conns_;
  Clock::duration grace_;
  int epfd_ = -1;
  Waiter head_;  // sentinel of the waiter list
  std::unordered_map<int, Parked> parked_;
};

}  // namespace edge::run
