// Conntrack deletion and counting by mark; see sweep.h.
#include "core/conntrack/sweep.h"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/base/errors.h"

namespace edge {
namespace {

using Handle = std::unique_ptr<nfct_handle, int (*)(nfct_handle*)>;
using Ct = std::unique_ptr<nf_conntrack, void (*)(nf_conntrack*)>;

Handle open_handle() {
  Handle h(nfct_open(CONNTRACK, 0), nfct_close);
  if (!h) {
    if (errno == EPERM || errno == EACCES) throw Fatal(Exit::privilege, "conntrack: needs CAP_NET_ADMIN (run as root)");
    throw Fatal(Exit::environment, std::string("conntrack: cannot open ctnetlink (") + std::strerror(errno) + "; is nf_conntrack loaded?)");
  }
  return h;
}

CtEntry entry_of(const nf_conntrack* ct) {
  CtEntry e;
  const bool v6 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) == AF_INET6;
  const Family f = v6 ? Family::v6 : Family::v4;
  e.proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
  e.orig_src = IpAddr::from_bytes(f, nfct_get_attr(ct, v6 ? ATTR_ORIG_IPV6_SRC : ATTR_ORIG_IPV4_SRC));
  e.orig_dst = IpAddr::from_bytes(f, nfct_get_attr(ct, v6 ? ATTR_ORIG_IPV6_DST : ATTR_ORIG_IPV4_DST));
  if (e.proto == IPPROTO_TCP || e.proto == IPPROTO_UDP || e.proto == IPPROTO_SCTP || e.proto == IPPROTO_UDPLITE) {
    e.orig_sport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
    e.orig_dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
  }
  e.mark = nfct_get_attr_u32(ct, ATTR_MARK);
  return e;
}

struct Collect {
  const std::function<bool(const CtEntry&)>* match;
  std::vector<Ct> keep;
  uint64_t seen = 0;
};

int collect_cb(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* c = static_cast<Collect*>(data);
  ++c->seen;
  if (c->match && !(*c->match)(entry_of(ct))) return NFCT_CB_CONTINUE;
  if (c->match) c->keep.emplace_back(ct, nfct_destroy);  // stolen: ours to free
  return c->match ? NFCT_CB_STOLEN : NFCT_CB_CONTINUE;
}

void dump(Collect& c, std::optional<MarkFilter> filter) {
  Handle h = open_handle();
  nfct_callback_register(h.get(), NFCT_T_ALL, collect_cb, &c);
  int rc;
  if (filter) {
    std::unique_ptr<nfct_filter_dump, void (*)(nfct_filter_dump*)> f(nfct_filter_dump_create(), nfct_filter_dump_destroy);
    nfct_filter_dump_mark m{filter->value, filter->mask};
    nfct_filter_dump_set_attr(f.get(), NFCT_FILTER_DUMP_MARK, &m);
    nfct_filter_dump_set_attr_u8(f.get(), NFCT_FILTER_DUMP_L3NUM, AF_UNSPEC);
    rc = nfct_query(h.get(), NFCT_Q_DUMP_FILTER, f.get());
  } else {
    uint32_t family = AF_UNSPEC;
    rc = nfct_query(h.get(), NFCT_Q_DUMP, &family);
  }
  if (rc < 0) throw Fatal(Exit::failed, std::string("conntrack: dump failed: ") + std::strerror(errno));
}

}  // namespace

uint64_t delete_flows(const std::function<bool(const CtEntry&)>& match, std::optional<MarkFilter> filter) {
  Collect c{&match, {}, 0};
  dump(c, filter);
  if (c.keep.empty()) return 0;
  Handle del = open_handle();
  uint64_t deleted = 0;
  for (const Ct& ct : c.keep)
    if (nfct_query(del.get(), NFCT_Q_DESTROY, ct.get()) == 0) ++deleted;  // ENOENT: it ended meanwhile
  return deleted;
}

uint64_t count_flows(MarkFilter filter) {
  Collect c{nullptr, {}, 0};
  dump(c, filter);
  return c.seen;
}

}  // namespace edge
