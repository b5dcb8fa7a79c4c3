// ctnetlink through libmnl. libnetfilter_conntrack's nfct_query() would also work, but its
// per-entry nfct_snprintf is ~40% of conntrack -L's time; reading raw messages and parsing them
// with nfct_nlmsg_parse keeps the library's parser and lets edge format output itself.
#include "core/conntrack/kernel_table.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/base/errors.h"
#include "core/net/nlattr.h"

namespace edge {
namespace {

constexpr size_t kRecvBuf = 1 << 17;  // big reads: a 200k-entry dump in ~500 recv calls

[[noreturn]] void fail_errno(const char* what, int err) {
  if (err == EPERM || err == EACCES)
    throw Fatal(Exit::privilege, "reading the conntrack table needs CAP_NET_ADMIN (run as root)");
  if (err == EPROTONOSUPPORT || err == ENOENT || err == EOPNOTSUPP)
    throw Fatal(Exit::environment, std::string("conntrack netlink is not available here (") + std::strerror(err) +
                                       "; is the nf_conntrack_netlink module loaded?)");
  throw Fatal(Exit::failed, std::string(what) + ": " + std::strerror(err));
}

nlmsghdr* put_request(char* buf, uint8_t msg, uint16_t flags, uint32_t seq, uint8_t family = AF_UNSPEC) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  nlh->nlmsg_seq = seq;
  auto* nfh = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfh->nfgen_family = family;
  nfh->version = NFNETLINK_V0;
  nfh->res_id = 0;
  return nlh;
}

IpAddr addr_attr(const nf_conntrack* ct, Family fam, int v4attr, int v6attr) {
  return IpAddr::from_bytes(fam, nfct_get_attr(ct, fam == Family::v4 ? nf_conntrack_attr(v4attr) : nf_conntrack_attr(v6attr)));
}

// Converts a parsed entry into the flow model. Kept here so only this file sees the library.
void to_flow(const nf_conntrack* ct, Flow& f) {
  f.family = nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET6 ? Family::v6 : Family::v4;
  f.proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
  f.orig.src = addr_attr(ct, f.family, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC);
  f.orig.dst = addr_attr(ct, f.family, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST);
  f.reply.src = addr_attr(ct, f.family, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC);
  f.reply.dst = addr_attr(ct, f.family, ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_DST);
  f.orig.sport = f.orig.dport = f.reply.sport = f.reply.dport = 0;
  f.orig.icmp_type = f.orig.icmp_code = f.reply.icmp_type = f.reply.icmp_code = 0;
  f.orig.icmp_id = f.reply.icmp_id = 0;
  if (proto_is_icmp(f.proto)) {
    f.orig.icmp_type = nfct_get_attr_u8(ct, ATTR_ICMP_TYPE);
    f.orig.icmp_code = nfct_get_attr_u8(ct, ATTR_ICMP_CODE);
    f.orig.icmp_id = ntohs(nfct_get_attr_u16(ct, ATTR_ICMP_ID));
    // The reply's ICMP fields are not exposed by libnetfilter_conntrack; parse_entry reads them.
  } else if (proto_has_ports(f.proto)) {
    f.orig.sport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
    f.orig.dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
    f.reply.sport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
    f.reply.dport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST));
  }
  f.state = (f.proto == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_STATE)) ? tcp_state_name(nfct_get_attr_u8(ct, ATTR_TCP_STATE))
                                                                           : std::string_view{};
  f.timeout = nfct_get_attr_u32(ct, ATTR_TIMEOUT);
  f.mark = nfct_get_attr_u32(ct, ATTR_MARK);
  f.zone = nfct_get_attr_u16(ct, ATTR_ZONE);
  f.id = nfct_get_attr_u32(ct, ATTR_ID);
  std::optional<uint32_t> status;
  if (nfct_attr_is_set(ct, ATTR_STATUS)) status = nfct_get_attr_u32(ct, ATTR_STATUS);
  f.assured = status && (*status & IPS_ASSURED);
  f.unreplied = status && !(*status & IPS_SEEN_REPLY);
  if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_PACKETS)) {
    f.orig_counters = Counters{nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS), nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES)};
    f.reply_counters = Counters{nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS), nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES)};
  } else {
    f.orig_counters.reset();
    f.reply_counters.reset();
  }
  classify_nat(f, status);
}

// libnetfilter_conntrack keeps only the original direction's ICMP type/code/id, but
// conntrack -L prints the reply's too (echo reply = type 0): read them from the nested
// CTA_TUPLE_REPLY > CTA_TUPLE_PROTO attributes.
void read_reply_icmp(const nlmsghdr* nlh, Tuple& reply) {
  for_each_msg_attr(nlh, sizeof(nfgenmsg), [&](const nlattr* t) {
    if (mnl_attr_get_type(t) != CTA_TUPLE_REPLY) return;
    for_each_attr(mnl_attr_get_payload(t), mnl_attr_get_payload_len(t), [&](const nlattr* proto) {
      if (mnl_attr_get_type(proto) != CTA_TUPLE_PROTO) return;
      for_each_attr(mnl_attr_get_payload(proto), mnl_attr_get_payload_len(proto), [&](const nlattr* p) {
        switch (mnl_attr_get_type(p)) {
          case CTA_PROTO_ICMP_TYPE: case CTA_PROTO_ICMPV6_TYPE: reply.icmp_type = mnl_attr_get_u8(p); break;
          case CTA_PROTO_ICMP_CODE: case CTA_PROTO_ICMPV6_CODE: reply.icmp_code = mnl_attr_get_u8(p); break;
          case CTA_PROTO_ICMP_ID: case CTA_PROTO_ICMPV6_ID: reply.icmp_id = ntohs(mnl_attr_get_u16(p)); break;
          default: break;
        }
      });
    });
  });
}

// Parses one ctnetlink message into `f`; false when it is not a usable entry.
bool parse_entry(const nlmsghdr* nlh, Flow& f) {
  std::unique_ptr<nf_conntrack, void (*)(nf_conntrack*)> ct(nfct_new(), nfct_destroy);
  if (!ct || nfct_nlmsg_parse(nlh, ct.get()) < 0) return false;
  to_flow(ct.get(), f);
  if (proto_is_icmp(f.proto)) read_reply_icmp(nlh, f.reply);
  return true;
}

// Receives replies to request `seq` until NLMSG_DONE (dumps) or the ack, calling cb per message.
void run_request(const NetlinkSocket& s, const char* what, nlmsghdr* req, mnl_cb_t cb, void* data) {
  if (mnl_socket_sendto(s.get(), req, req->nlmsg_len) < 0) fail_errno(what, errno);
  std::string buf(kRecvBuf, '\0');
  while (true) {
    ssize_t n = mnl_socket_recvfrom(s.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(what, errno);
    }
    int r = mnl_cb_run(buf.data(), size_t(n), req->nlmsg_seq, s.portid(), cb, data);
    if (r == MNL_CB_ERROR) fail_errno(what, errno);
    if (r == MNL_CB_STOP) return;
  }
}

uint64_t be32_attr(const nlattr* a) { return ntohl(mnl_attr_get_u32(a)); }

}  // namespace

// A bounded queue of receive buffers between the receiving thread and the parsing one.
class DumpPipe {
 public:
  struct Chunk {
    std::vector<char> data;
    size_t len = 0;
    int err = 0;
  };

  // The receiving thread's body: reads until the dump ends, fails, or stop() is called.
  void receive(const NetlinkSocket& s) {
    receive_all(s);
    std::lock_guard lk(mu_);
    done_ = true;
    cv_.notify_all();
  }
  // The next filled chunk, in order; nullopt once the receiver has finished and all are taken.
  std::optional<Chunk> pop() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !full_.empty() || done_; });
    if (full_.empty()) return std::nullopt;
    Chunk c = std::move(full_.front());
    full_.pop_front();
    return c;
  }
  void recycle(Chunk c) {
    std::lock_guard lk(mu_);
    c.len = 0;
    free_.push_back(std::move(c));
    cv_.notify_all();
  }
  void stop() {
    std::lock_guard lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }

 private:
  // The kernel sizes each dump message batch to the reader's buffer, at most 32 KiB.
  static constexpr size_t kChunks = 4, kChunkSize = 32 << 10;

  void receive_all(const NetlinkSocket& s) {
    while (true) {
      std::optional<Chunk> c = take_free();
      if (!c) return;  // stopped
      ssize_t n;
      do n = recv(s.fd(), c->data.data(), c->data.size(), 0);
      while (n < 0 && errno == EINTR);
      if (n < 0) c->err = errno;
      else c->len = size_t(n);
      const bool last = n <= 0 || is_done(*c);
      std::lock_guard lk(mu_);
      full_.push_back(std::move(*c));
      cv_.notify_all();
      if (last) return;
    }
  }
  // The kernel ends a dump with NLMSG_DONE (or an error) as the last message of a read.
  static bool is_done(const Chunk& c) {
    size_t off = 0;
    const nlmsghdr* last = nullptr;
    while (off + sizeof(nlmsghdr) <= c.len) {
      auto* h = reinterpret_cast<const nlmsghdr*>(c.data.data() + off);
      if (h->nlmsg_len < sizeof(nlmsghdr)) break;
      last = h;
      off += NLMSG_ALIGN(h->nlmsg_len);
    }
    return last && (last->nlmsg_type == NLMSG_DONE || last->nlmsg_type == NLMSG_ERROR);
  }
  std::optional<Chunk> take_free() {
    std::unique_lock lk(mu_);
    if (stop_) return std::nullopt;
    if (free_.empty() && allocated_ < kChunks) {
      ++allocated_;
      Chunk c;
      c.data.resize(kChunkSize);
      return c;
    }
    cv_.wait(lk, [&] { return !free_.empty() || stop_; });
    if (stop_) return std::nullopt;
    Chunk c = std::move(free_.front());
    free_.pop_front();
    return c;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> full_, free_;
  size_t allocated_ = 0;
  bool stop_ = false, done_ = false;
};

namespace {

}  // namespace

NetlinkSocket NetlinkSocket::open(unsigned groups) {
  mnl_socket* s = mnl_socket_open(NETLINK_NETFILTER);
  if (!s) fail_errno("opening netlink", errno);
  NetlinkSocket owned(s, 0);
  if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) fail_errno("binding netlink", errno);
  owned.portid_ = mnl_socket_get_portid(s);
  return owned;
}

NetlinkSocket::NetlinkSocket(NetlinkSocket&& o) noexcept : sock_(o.sock_), portid_(o.portid_) { o.sock_ = nullptr; }
NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& o) noexcept {
  std::swap(sock_, o.sock_);
  std::swap(portid_, o.portid_);
  return *this;
}
NetlinkSocket::~NetlinkSocket() {
  if (sock_) mnl_socket_close(sock_);
}
int NetlinkSocket::fd() const { return mnl_socket_get_fd(sock_); }

void KernelTable::dump(const std::function<bool(const Flow&)>& each) {
  struct Ctx {
    const std::function<bool(const Flow&)>* each;
    Flow flow;
  } ctx{&each, {}};
  char req[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_request(req, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq_++);
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) fail_errno("dumping conntrack", errno);

  // Two-stage pipeline: the kernel builds the dump inside recvmsg(), so one thread receives
  // while this one parses and prints. On two cores the listing takes about as long as the
  // kernel's share alone. The queue is bounded: memory stays constant.
  DumpPipe pipe;
  std::thread receiver([&] { pipe.receive(sock_); });
  int err = 0;
  bool stopped = false;
  while (auto chunk = pipe.pop()) {
    if (chunk->err) {
      err = chunk->err;
      break;
    }
    int r = mnl_cb_run(chunk->data.data(), chunk->len, nlh->nlmsg_seq, sock_.portid(),
                       [](const nlmsghdr* m, void* data) -> int {
                         auto* c = static_cast<Ctx*>(data);
                         if (parse_entry(m, c->flow) && !(*c->each)(c->flow)) return MNL_CB_STOP;
                         return MNL_CB_OK;
                       },
                       &ctx);
    pipe.recycle(std::move(*chunk));
    if (r == MNL_CB_ERROR) {
      err = errno;
      break;
    }
    if (r == MNL_CB_STOP) {
      stopped = true;  // NLMSG_DONE, or the caller had enough (--limit)
      break;
    }
  }
  pipe.stop();
  receiver.join();
  // After an early stop the rest of the dump is still queued in the kernel: this socket is
  // done for dumps, so replace it before the table is used again.
  if (stopped || err) sock_ = NetlinkSocket::open(0);
  if (err) fail_errno("dumping conntrack", err);
}

TableCount KernelTable::count() {
  TableCount out;
  char req[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_request(req, IPCTNL_MSG_CT_GET_STATS, NLM_F_ACK, seq_++);
  run_request(sock_, "reading the conntrack count", nlh,
              [](const nlmsghdr* m, void* data) -> int {
                auto* o = static_cast<TableCount*>(data);
                mnl_attr_parse(m, sizeof(nfgenmsg),
                               [](const nlattr* a, void* d) -> int {
                                 auto* o = static_cast<TableCount*>(d);
                                 if (mnl_attr_get_type(a) == CTA_STATS_GLOBAL_ENTRIES) o->entries = be32_attr(a);
                                 if (mnl_attr_get_type(a) == CTA_STATS_GLOBAL_MAX_ENTRIES) o->max = be32_attr(a);
                                 return MNL_CB_OK;
                               },
                               o);
                return MNL_CB_OK;
              },
              &out);
  return out;
}

ConntrackCpuStats KernelTable::cpu_stats() {
  ConntrackCpuStats out;
  char req[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_request(req, IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_DUMP, seq_++);
  run_request(sock_, "reading conntrack statistics", nlh,
              [](const nlmsghdr* m, void* data) -> int {
                mnl_attr_parse(m, sizeof(nfgenmsg),
                               [](const nlattr* a, void* d) -> int {
                                 auto* s = static_cast<ConntrackCpuStats*>(d);
                                 if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return MNL_CB_OK;
                                 uint64_t v = be32_attr(a);
                                 switch (mnl_attr_get_type(a)) {
                                   case CTA_STATS_FOUND: s->found += v; break;
                                   case CTA_STATS_INVALID: s->invalid += v; break;
                                   case CTA_STATS_INSERT: s->insert += v; break;
                                   case CTA_STATS_INSERT_FAILED: s->insert_failed += v; break;
                                   case CTA_STATS_DROP: s->drop += v; break;
                                   case CTA_STATS_EARLY_DROP: s->early_drop += v; break;
                                   case CTA_STATS_ERROR: s->error += v; break;
                                   case CTA_STATS_SEARCH_RESTART: s->search_restart += v; break;
                                   case CTA_STATS_CLASH_RESOLVE: s->clash_resolve += v; break;
                                   case CTA_STATS_CHAIN_TOOLONG: s->chaintoolong += v; break;
                                   default: break;
                                 }
                                 return MNL_CB_OK;
                               },
                               data);
                return MNL_CB_OK;
              },
              &out);
  return out;
}

EventStream EventStream::open(unsigned event_mask, int rcvbuf_bytes) {
  EventStream es(NetlinkSocket::open(event_mask));
  int fd = es.sock_.fd();
  // FORCE needs CAP_NET_ADMIN (which we have, or open would have failed) and ignores rmem_max.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf_bytes, sizeof rcvbuf_bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
  es.buf_.resize(kRecvBuf);
  return es;
}

uint64_t EventStream::socket_drops() const {
  // SO_MEMINFO's drop counter counts every event skb the kernel could not queue: the exact
  // number of events lost, which ENOBUFS alone does not tell.
  uint32_t mem[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof mem;
  if (getsockopt(sock_.fd(), SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 || len <= SK_MEMINFO_DROPS * sizeof(uint32_t)) return 0;
  return mem[SK_MEMINFO_DROPS];
}

EventStream::Next EventStream::next(Flow& flow, std::chrono::milliseconds timeout, int interrupt_fd) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    while (pos_ < len_) {
      auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data() + pos_);
      int remaining = int(len_ - pos_);
      if (!mnl_nlmsg_ok(nlh, remaining)) {
        pos_ = len_;
        break;
      }
      pos_ += NLMSG_ALIGN(nlh->nlmsg_len);
      if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_CTNETLINK) continue;
      const uint8_t msg = nlh->nlmsg_type & 0xff;
      Next n;
      n.kind = Next::event;
      if (msg == IPCTNL_MSG_CT_DELETE) n.type = FlowEvent::destroyed;
      else if (msg == IPCTNL_MSG_CT_NEW)
        n.type = (nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL)) ? FlowEvent::created : FlowEvent::updated;
      else continue;
      if (parse_entry(nlh, flow)) return n;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    pollfd p[2] = {{sock_.fd(), POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
    int r = poll(p, interrupt_fd >= 0 ? 2 : 1, int(std::min<int64_t>(left.count(), 1 << 30)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return {};
    if (interrupt_fd >= 0 && (p[1].revents & POLLIN)) {
      Next stop;
      stop.kind = Next::interrupted;
      return stop;
    }
    ssize_t n = recv(sock_.fd(), buf_.data(), buf_.size(), 0);
    if (n < 0) {
      if (errno == ENOBUFS) {
        Next lost;
        lost.kind = Next::lost;
        uint64_t drops = socket_drops();
        lost.lost_count = drops > drops_reported_ ? drops - drops_reported_ : 0;
        drops_reported_ = drops;
        return lost;
      }
      if (errno == EINTR || errno == EAGAIN) continue;
      fail_errno("reading conntrack events", errno);
    }
    pos_ = 0;
    len_ = size_t(n);
  }
}

}  // namespace edge
