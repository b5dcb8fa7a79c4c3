// /proc/net/nf_conntrack line format (net/netfilter/nf_conntrack_standalone.c, ct_seq_show):
//   ipv4 2 tcp 6 431999 ESTABLISHED src=A dst=B sport=1 dport=2 [packets=N bytes=N] [UNREPLIED]
//   src=B dst=A sport=2 dport=1 [packets=N bytes=N] [ASSURED] mark=0 [secctx=..] zone=0 use=2
#include "core/conntrack/proc_parse.h"

#include <charconv>

namespace edge {
namespace {

template <class T>
bool to_num(std::string_view s, T& v) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

std::string_view next_token(std::string_view& rest) {
  size_t b = rest.find_first_not_of(" \t\n");
  if (b == std::string_view::npos) {
    rest = {};
    return {};
  }
  size_t e = rest.find_first_of(" \t\n", b);
  std::string_view tok = rest.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
  rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e);
  return tok;
}

}  // namespace

Parsed<void> parse_proc_conntrack_line(std::string_view line, Flow& f) {
  f = Flow{};
  std::string_view rest = line;
  std::string_view l3 = next_token(rest), l3num = next_token(rest), l4 = next_token(rest), l4num = next_token(rest),
                   timeout = next_token(rest);
  if (l3 == "ipv4") f.family = Family::v4;
  else if (l3 == "ipv6") f.family = Family::v6;
  else return std::string("unknown layer-3 protocol");
  unsigned l3n = 0, l4n = 0;
  if (!to_num(l3num, l3n) || !to_num(l4num, l4n) || l4n > 255 || l4.empty()) return std::string("bad protocol fields");
  f.proto = uint8_t(l4n);
  if (!to_num(timeout, f.timeout)) return std::string("bad timeout");

  int src_seen = 0;
  bool state_seen = false;
  bool have_dst[2] = {false, false};
  while (true) {
    std::string_view tok = next_token(rest);
    if (tok.empty()) break;
    if (tok == "[UNREPLIED]") { f.unreplied = true; continue; }
    if (tok == "[ASSURED]") { f.assured = true; continue; }
    if (tok.front() == '[') continue;  // [OFFLOAD], [HW_OFFLOAD]
    auto eq = tok.find('=');
    if (eq == std::string_view::npos) {
      // The only bare word is the protocol state, right after the timeout.
      if (src_seen || state_seen) return std::string("unexpected word");
      state_seen = true;
      if (f.proto == 6) {  // SCTP/DCCP states are not part of the model yet, as with netlink
        auto st = parse_tcp_state(tok);
        if (!st) return std::string("unknown TCP state");
        f.state = *st;
      }
      continue;
    }
    std::string_view key = tok.substr(0, eq), val = tok.substr(eq + 1);
    if (key == "src") {
      if (++src_seen > 2) return std::string("more than two tuples");
    }
    if (src_seen == 0 && key != "mark" && key != "zone" && key != "use") return std::string("field before the first tuple");
    Tuple& t = src_seen <= 1 ? f.orig : f.reply;
    const int dir = src_seen <= 1 ? 0 : 1;
    if (key == "src" || key == "dst") {
      auto a = IpAddr::parse(val);
      if (!a || a->family() != f.family) return std::string("bad address");
      (key == "src" ? t.src : t.dst) = *a;
      if (key == "dst") have_dst[dir] = true;
    } else if (key == "sport" || key == "dport") {
      if (!to_num(val, key == "sport" ? t.sport : t.dport)) return std::string("bad port");
    } else if (key == "type") {
      if (!to_num(val, t.icmp_type)) return std::string("bad icmp type");
    } else if (key == "code") {
      if (!to_num(val, t.icmp_code)) return std::string("bad icmp code");
    } else if (key == "id") {
      if (!to_num(val, t.icmp_id)) return std::string("bad icmp id");
    } else if (key == "packets" || key == "bytes") {
      auto& c = dir == 0 ? f.orig_counters : f.reply_counters;
      if (!c) c.emplace();
      if (!to_num(val, key == "packets" ? c->packets : c->bytes)) return std::string("bad counter");
    } else if (key == "mark") {
      if (!to_num(val, f.mark)) return std::string("bad mark");
    } else if (key == "zone") {
      if (!to_num(val, f.zone)) return std::string("bad zone");
    }
    // use=, secctx=, helper=, delta-time=, labels=: not part of the flow model.
  }
  if (src_seen != 2 || !have_dst[0] || !have_dst[1]) return std::string("missing tuple");
  classify_nat(f, std::nullopt);
  return {};
}

}  // namespace edge
