// Human rendering of flows.
#include "core/out/flow_text.h"

#include <fmt/format.h>

#include "core/base/duration.h"
#include "core/out/flow_flags.h"

namespace edge {

std::vector<Column> flow_columns(bool with_counters) {
  std::vector<Column> c{{"PROTO"}, {"STATE"}, {"FLOW"}, {"NAT"}, {"TIMEOUT", Align::right}, {"MARK", Align::right}, {"FLAGS"}};
  if (with_counters) {
    // Counters go before FLAGS would be nicer to read, but FLAGS is often empty and the last
    // column is not padded; keep numbers right-aligned in the middle.
    c.insert(c.begin() + 6, {{"PKTS", Align::right}, {"BYTES", Align::right}});
  }
  return c;
}

void append_endpoint(std::string& out, const IpAddr& a, uint16_t port, bool with_port) {
  const bool v6 = a.family() == Family::v6;
  if (with_port && v6) out += '[';
  a.append_to(out);
  if (with_port) {
    if (v6) out += ']';
    out += ':';
    fmt::format_to(std::back_inserter(out), "{}", port);
  }
}

std::string nat_text(const Flow& f) {
  std::string s;
  const bool ports = proto_has_ports(f.proto);
  if (f.snat) {
    const bool port_changed = ports && f.reply.dport != f.orig.sport;
    s += "SNAT ";
    append_endpoint(s, f.orig.src, f.orig.sport, port_changed);
    s += " -> ";
    append_endpoint(s, f.reply.dst, f.reply.dport, port_changed);
  }
  if (f.dnat) {
    if (!s.empty()) s += ", ";
    s += "DNAT ";
    if (ports) fmt::format_to(std::back_inserter(s), ":{}", f.orig.dport);
    else f.orig.dst.append_to(s);
    s += " -> ";
    append_endpoint(s, f.reply.src, f.reply.sport, ports);
  }
  return s;
}

std::string human_count(uint64_t n) {
  if (n < 1024) return fmt::format("{}", n);
  const char* units = "KMGTPE";
  double v = double(n);
  int u = -1;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  return fmt::format("{:.1f}{}", v, units[u]);
}

void flow_cells(const Flow& f, bool with_counters, std::vector<std::string>& cells) {
  cells.resize(with_counters ? 9 : 7);
  for (auto& c : cells) c.clear();
  cells[0] = proto_label(f.proto);
  cells[1] = f.state.empty() ? std::string_view("-") : f.state;
  std::string& flow = cells[2];
  const bool ports = proto_has_ports(f.proto);
  append_endpoint(flow, f.orig.src, f.orig.sport, ports);
  flow += " -> ";
  append_endpoint(flow, f.orig.dst, f.orig.dport, ports);
  if (proto_is_icmp(f.proto))
    fmt::format_to(std::back_inserter(flow), " type {} code {} id {}", f.orig.icmp_type, f.orig.icmp_code, f.orig.icmp_id);
  cells[3] = nat_text(f);
  cells[4] = format_duration(std::chrono::seconds(f.timeout));
  cells[5] = f.mark ? fmt::format("{:#x}", f.mark) : "0";
  size_t i = 6;
  if (with_counters) {
    if (f.orig_counters && f.reply_counters) {
      cells[6] = human_count(f.orig_counters->packets + f.reply_counters->packets);
      cells[7] = human_count(f.orig_counters->bytes + f.reply_counters->bytes);
    } else {
      cells[6] = cells[7] = "-";
    }
    i = 8;
  }
  for (const FlowFlag& flag : kFlowFlags) {
    if (!(f.*flag.member)) continue;
    if (!cells[i].empty()) cells[i] += ',';
    cells[i] += flag.name;
  }
}

}  // namespace edge
