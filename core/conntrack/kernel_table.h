// The kernel's connection-tracking table through ctnetlink (libmnl for the socket,
// libnetfilter_conntrack to parse each entry): streamed dumps, the count and limit, the
// per-CPU statistics `conntrack -S` reads, and the event stream. Works in whatever network
// namespace the process is in when the handle is opened.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/flow/flow.h"

struct mnl_socket;

namespace edge {
class DumpPipe;
}

namespace edge {

struct TableCount {
  uint64_t entries = 0;
  uint64_t max = 0;
};

// Summed over CPUs; the names are the kernel's (and conntrack -S's).
struct ConntrackCpuStats {
  uint64_t found = 0, invalid = 0, insert = 0, insert_failed = 0, drop = 0, early_drop = 0, error = 0,
           search_restart = 0, clash_resolve = 0, chaintoolong = 0;
};

enum class FlowEvent { created, updated, destroyed };

// One netlink socket; move-only, closed on destruction.
class NetlinkSocket {
 public:
  NetlinkSocket(NetlinkSocket&&) noexcept;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept;
  ~NetlinkSocket();
  mnl_socket* get() const { return sock_; }
  uint32_t portid() const { return portid_; }
  int fd() const;

  // groups = 0 for queries; multicast group bits for events. Throws Fatal (exit 3 without
  // CAP_NET_ADMIN, exit 4 without ctnetlink).
  static NetlinkSocket open(unsigned groups);

 private:
  NetlinkSocket(mnl_socket* s, uint32_t portid) : sock_(s), portid_(portid) {}
  mnl_socket* sock_ = nullptr;
  uint32_t portid_ = 0;
};

class KernelTable {
 public:
  static KernelTable open() { return KernelTable(NetlinkSocket::open(0)); }

  // Calls `each` for every entry, in kernel order, with constant memory, until it returns
  // false. The Flow is reused between calls: copy it to keep it.
  void dump(const std::function<bool(const Flow&)>& each);
  TableCount count();
  ConntrackCpuStats cpu_stats();

 private:
  explicit KernelTable(NetlinkSocket s) : sock_(std::move(s)) {}
  NetlinkSocket sock_;
  uint32_t seq_ = 1;
};

// Subscribes to new/update/destroy events. next() waits up to `timeout` for one event.
class EventStream {
 public:
  // rcvbuf_bytes: the socket buffer; larger means fewer lost events under bursts.
  static EventStream open(unsigned event_mask, int rcvbuf_bytes);

  struct Next {
    enum Kind { event, lost, timeout, interrupted } kind = timeout;
    FlowEvent type = FlowEvent::created;
    uint64_t lost_count = 0;  // for `lost`: events the kernel dropped since the last report
  };
  // Fills `flow` for an event. Messages that are not conntrack events are skipped. When
  // `interrupt_fd` becomes readable (a signalfd), returns `interrupted`.
  Next next(Flow& flow, std::chrono::milliseconds timeout, int interrupt_fd = -1);

 private:
  explicit EventStream(NetlinkSocket s) : sock_(std::move(s)) {}
  uint64_t socket_drops() const;
  NetlinkSocket sock_;
  std::string buf_;
  size_t pos_ = 0, len_ = 0;
  uint64_t drops_reported_ = 0;
};

// Event mask bits for EventStream::open (the kernel's NF_NETLINK_CONNTRACK_* groups).
constexpr unsigned kEventNew = 1, kEventUpdate = 2, kEventDestroy = 4;

}  // namespace edge
