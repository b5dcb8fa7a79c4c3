// The UDP session table (engines/nat/udp_sessions.h).
#include "engines/nat/udp_sessions.h"

#include <algorithm>
#include <string_view>

namespace edge::nat {

size_t ClientAddrHash::operator()(const ClientAddr& c) const {
  const std::string_view bytes(reinterpret_cast<const char*>(c.addr.bytes()), c.addr.size());
  return std::hash<std::string_view>{}(bytes) * 31 + c.port;
}

uint64_t UdpSessions::touch(const ClientAddr& c) {
  auto it = sessions_.find(c);
  if (it == sessions_.end()) return 0;
  it->second.last = now_();
  return it->second.id;
}

uint64_t UdpSessions::open(const ClientAddr& c) {
  FlowSlot slot(budget_);
  if (!slot) return 0;
  const uint64_t id = next_id_++;
  sessions_.try_emplace(c, Entry{id, now_(), std::move(slot)});  // the caller found none for c
  return id;
}

void UdpSessions::close(const ClientAddr& c) { sessions_.erase(c); }

std::vector<uint64_t> UdpSessions::expire() {
  std::vector<uint64_t> gone;
  const auto now = now_();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now - it->second.last >= idle_) {
      gone.push_back(it->second.id);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

Millis UdpSessions::left(const ClientAddr& c) const {
  auto it = sessions_.find(c);
  if (it == sessions_.end()) return Millis(0);
  const auto used = std::chrono::duration_cast<Millis>(now_() - it->second.last);
  return std::max(Millis(0), idle_ - used);
}

}  // namespace edge::nat
