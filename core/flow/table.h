// edge's own flow table: every connection a proxy engine carries, in the kernel's conntrack
// model (core/flow/flow.h), so `edge conntrack --origin edge|all` lists them beside the
// kernel's. Thread-safe; engines add a flow when a connection starts, update it as it goes,
// and remove it when it ends.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/flow/flow.h"

namespace edge {

class FlowTable {
 public:
  explicit FlowTable(std::string origin) : origin_(std::move(origin)) {}
  const std::string& origin() const { return origin_; }

  uint64_t add(Flow f);
  void update(uint64_t id, const std::function<void(Flow&)>& change);
  void remove(uint64_t id);
  std::vector<Flow> snapshot() const;

 private:
  std::string origin_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Flow> flows_;
  uint64_t next_ = 1;
};

// Removes its flow from the table when it goes out of scope (on every exit path).
class FlowHandle {
 public:
  FlowHandle(FlowTable& t, Flow f) : t_(t), id_(t.add(std::move(f))) {}
  // Takes over a flow already in the table (one released by another handle).
  struct Adopt {};
  FlowHandle(FlowTable& t, uint64_t id, Adopt) : t_(t), id_(id) {}
  ~FlowHandle() {
    if (id_) t_.remove(id_);
  }
  // Gives the flow up without removing it: whoever takes the id now owns it.
  uint64_t release() { return std::exchange(id_, 0); }
  FlowHandle(const FlowHandle&) = delete;
  FlowHandle& operator=(const FlowHandle&) = delete;
  void update(const std::function<void(Flow&)>& change) { t_.update(id_, change); }

 private:
  FlowTable& t_;
  uint64_t id_;
};

}  // namespace edge
