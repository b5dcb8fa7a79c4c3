// Timeouts for many connections on one thread without a timer each: an entry carries its
// deadline in an intrusive list, and one sweep (every few tens of ms, from the thread's own
// loop) expires what is due. Arming or moving a deadline is two pointer writes; a per-operation
// Asio timer (Beast's tcp_stream) cost about a quarter of edge rproxy's request throughput.
// Arming reads no clock: a deadline counts from the last sweep's time plus one interval, so it
// does not fire early and fires at most two intervals late. Single-threaded: entries belong to the thread
// whose list they joined (Deadlines::current()).
#pragma once
#include <chrono>

namespace edge {

class Deadlines {
 public:
  using Clock = std::chrono::steady_clock;
  // How often the owning thread sweeps (its loop's promise; the arming base relies on it).
  static constexpr std::chrono::milliseconds kSweepEvery{20};

  class Entry {
   public:
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

   protected:
    Entry() = default;
    ~Entry() { disarm(); }
    // Arms (or moves) the deadline in the current thread's list; without one, nothing expires.
    void arm(Clock::time_point at) {
      at_ = at;
      if (!list_ && (list_ = Deadlines::current())) list_->link(this);
    }
    void disarm() {
      if (list_) list_->unlink(this);
      list_ = nullptr;
    }
    // Called once by the sweep when the deadline passed (the entry is already disarmed).
    virtual void expire() = 0;

   private:
    friend class Deadlines;
    Entry* prev_ = nullptr;
    Entry* next_ = nullptr;
    Deadlines* list_ = nullptr;
    Clock::time_point at_;
  };

  Deadlines() = default;
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;
  ~Deadlines() {
    while (head_) unlink(head_);
  }

  // Where a deadline armed now counts from: the last sweep plus one interval (no clock read
  // on the request path), or the clock itself on a thread without a list or a sweep yet.
  static Clock::time_point base() {
    const Deadlines* d = current();
    return d && d->swept_ != Clock::time_point{} ? d->swept_ + kSweepEvery : Clock::now();
  }

  // The time now, to within one sweep interval and never behind it: the last sweep's time
  // plus one interval (base()). For bookkeeping that tolerates 20 ms (pool idleness, backend
  // ejection, parking grace), with no clock read on the request path.
  static Clock::time_point coarse_now() { return base(); }

  // Expires every entry whose deadline is at or before `now`.
  void sweep(Clock::time_point now) {
    swept_ = now;
    for (Entry* e = head_; e;) {
      Entry* next = e->next_;
      if (e->at_ <= now) {
        unlink(e);
        e->list_ = nullptr;
        e->expire();
      }
      e = next;
    }
  }

  // The list of the running thread (set by each worker thread before its loop starts).
  static Deadlines*& current() {
    thread_local Deadlines* d = nullptr;
    return d;
  }

 private:
  void link(Entry* e) {
    e->prev_ = nullptr;
    e->next_ = head_;
    if (head_) head_->prev_ = e;
    head_ = e;
  }
  void unlink(Entry* e) {
    if (e->prev_) e->prev_->next_ = e->next_;
    else if (head_ == e) head_ = e->next_;
    if (e->next_) e->next_->prev_ = e->prev_;
    e->prev_ = e->next_ = nullptr;
    e->list_ = nullptr;
  }

  Entry* head_ = nullptr;
  Clock::time_point swept_{};
};

}  // namespace edge
