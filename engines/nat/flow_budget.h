// --max-flows for the user engine: the slots its TCP connections and UDP sessions share. A new
// flow that finds none is refused and counted: the user engine's picture of a full conntrack
// table. Taken and given back on the engine's thread; the counters are read from others (the
// control socket's status).
#pragma once
#include <atomic>
#include <cstdint>
#include <utility>

namespace edge::nat {

class FlowBudget {
 public:
  explicit FlowBudget(uint64_t max) : max_(max) {}
  // A slot for a new flow, or false (counted as a refusal) when all are taken.
  bool take() {
    if (now_.load(std::memory_order_relaxed) >= max_) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    now_.fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  void give_back() { now_.fetch_sub(1, std::memory_order_relaxed); }

  uint64_t max() const { return max_; }
  uint64_t now() const { return now_.load(std::memory_order_relaxed); }
  uint64_t total() const { return total_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  uint64_t max_;
  std::atomic<uint64_t> now_{0}, total_{0}, refused_{0};
};

// One taken slot, given back when the flow ends (on every exit path).
class FlowSlot {
 public:
  explicit FlowSlot(FlowBudget& b) : b_(b.take() ? &b : nullptr) {}
  FlowSlot(FlowSlot&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  FlowSlot& operator=(FlowSlot&&) = delete;
  FlowSlot(const FlowSlot&) = delete;
  ~FlowSlot() {
    if (b_) b_->give_back();
  }
  explicit operator bool() const { return b_ != nullptr; }

 private:
  FlowBudget* b_;
};

}  // namespace edge::nat
