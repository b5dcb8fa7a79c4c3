// The flow table: a mutex-guarded map; snapshots are copies, so readers never hold the lock long.
#include "core/flow/table.h"

namespace edge {

uint64_t FlowTable::add(Flow f) {
  std::lock_guard lk(mu_);
  std::string().swap(f.origin);  // kept once, in origin_: "edge:rproxy:<pid>" would cost each flow an allocation
  const uint64_t id = next_++;
  f.id = uint32_t(id);
  flows_.emplace(id, std::move(f));
  return id;
}

void FlowTable::update(uint64_t id, const std::function<void(Flow&)>& change) {
  std::lock_guard lk(mu_);
  if (auto it = flows_.find(id); it != flows_.end()) change(it->second);
}

void FlowTable::remove(uint64_t id) {
  std::lock_guard lk(mu_);
  flows_.erase(id);
}

std::vector<Flow> FlowTable::snapshot() const {
  std::lock_guard lk(mu_);
  std::vector<Flow> out;
  out.reserve(flows_.size());
  for (const auto& [id, f] : flows_) {
    out.push_back(f);
    out.back().origin = origin_;
  }
  return out;
}

}  // namespace edge
