// The idle set: an intrusive list of waiters, a map of parked descriptors and an epoll set.
#include "core/run/idle.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <stdexcept>

namespace edge::run {

Idle::Idle(FlowTable& flows, std::atomic<unsigned>& conns, Clock::duration grace) : flows_(flows), conns_(conns), grace_(grace) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::runtime_error("epoll_create1 failed");
  head_.prev = head_.next = &head_;
}

Idle::~Idle() {
  for (const auto& [fd, p] : parked_) close_parked(fd, p);
  ::close(epfd_);
}

void Idle::wait_begin(Waiter& w) {
  w.outcome = Waiter::Outcome::none;
  w.prev = head_.prev;
  w.next = &head_;
  head_.prev->next = &w;
  head_.prev = &w;
}

void Idle::wait_end(Waiter& w) {
  if (!w.prev) return;
  w.prev->next = w.next;
  w.next->prev = w.prev;
  w.prev = w.next = nullptr;
}

size_t Idle::sweep_waiters(Clock::time_point now) {
  size_t parking = 0;
  for (Waiter* w = head_.next; w != &head_; w = w->next) {
    if (w->outcome != Waiter::Outcome::none) continue;  // told already; its completion is queued
    if (now - w->since >= w->limit) w->outcome = Waiter::Outcome::expired;
    else if (w->parkable && now - w->since >= grace_) w->outcome = Waiter::Outcome::park, ++parking;
    else continue;
    boost::system::error_code ignored;
    w->sock->cancel(ignored);
  }
  return parking;
}

void Idle::expire_parked(Clock::time_point now) {
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    close_parked(it->first, it->second);
    it = parked_.erase(it);
  }
}

void Idle::park(boost::asio::ip::tcp::socket& sock, const Parked& p) {
  boost::system::error_code ec;
  const int fd = sock.release(ec);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (ec || epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
    if (!ec) ::close(fd);
    flows_.remove(p.flow);
    return;
  }
  parked_.emplace(fd, p);
  ++conns_;
}

std::vector<std::pair<int, Idle::Parked>> Idle::take_ready() {
  std::vector<std::pair<int, Parked>> out;
  epoll_event evs[256];
  // Until the set is drained: the outer (edge-triggered) registration of this epoll descriptor
  // would not fire again for events left behind.
  int n;
  do {
    n = epoll_wait(epfd_, evs, 256, 0);
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
      auto it = parked_.find(fd);
      if (it == parked_.end()) continue;
      out.emplace_back(fd, it->second);  // still counted in conns_: the session adopts the count
      parked_.erase(it);
    }
  } while (n == 256);
  return out;
}

void Idle::drain() {
  for (Waiter* w = head_.next; w != &head_; w = w->next) {
    if (w->outcome != Waiter::Outcome::none) continue;
    w->outcome = Waiter::Outcome::drain;
    boost::system::error_code ignored;
    w->sock->cancel(ignored);
  }
  for (const auto& [fd, p] : parked_) close_parked(fd, p);
  parked_.clear();
}

void Idle::close_parked(int fd, const Parked& p) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  flows_.remove(p.flow);
  --conns_;
}

}  // namespace edge::run
