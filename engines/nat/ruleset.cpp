// nft and iptables text for the kernel engine's rules; see ruleset.h.
#include "engines/nat/ruleset.h"

#include <fmt/format.h>

namespace edge::nat {
namespace {

std::string ports(const PortRange& p) { return p.lo() == p.hi() ? std::to_string(p.lo()) : fmt::format("{}-{}", p.lo(), p.hi()); }

bool is_v6(const std::string& literal) { return literal.find(':') != std::string::npos; }

std::string bracketed(const std::string& a) { return is_v6(a) ? "[" + a + "]" : a; }

const char* nfproto(bool v6) { return v6 ? "ipv6" : "ipv4"; }
const char* ipkw(bool v6) { return v6 ? "ip6" : "ip"; }

// The dnat statement's target: ADDR, ADDR:PORT, or a one-to-one port map.
std::string dnat_target(const DnatRule& r) {
  const bool v6 = is_v6(r.to_host);
  std::string t = fmt::format("dnat {} to {}", ipkw(v6), bracketed(r.to_host));
  if (!r.to_ports) return t;
  if (r.to_ports->lo() == r.to_ports->hi()) return t + ":" + std::to_string(r.to_ports->lo());
  std::string map;
  for (unsigned i = 0; i <= unsigned(r.port.hi() - r.port.lo()); ++i)
    map += fmt::format("{}{} : {}", i ? ", " : "", r.port.lo() + i, r.to_ports->lo() + i);
  return fmt::format("dnat {} to {} : {} dport map {{ {} }}", ipkw(v6), bracketed(r.to_host), proto_name(r.proto), map);
}

// Two rules for one match: the first marks the flow as this instance's unless something (another
// edge nat, another tool) marked it already, and counts it (once: the next rule of this
// instance sees it marked); the second translates. Overwriting a mark would
// take the flow from its owner: its exit would no longer delete it, ours would.
std::string marked(const std::string& match, uint32_t mark, const std::string& nat) {
  return fmt::format("{} ct mark 0 ct mark set 0x{:08x} counter name \"edge_flows\"\n    {} {}", match, mark, match, nat);
}

std::string dnat_rule(const DnatRule& r, uint32_t mark, bool output_hook) {
  const bool v6 = is_v6(r.to_host);
  std::string s;
  if (!r.in_iface.empty() && !output_hook) s += fmt::format("iifname \"{}\" ", r.in_iface);
  s += fmt::format("meta nfproto {} ", nfproto(v6));
  s += r.dst ? fmt::format("{} daddr {} ", ipkw(v6), r.dst->str()) : std::string("fib daddr type local ");
  s += fmt::format("{} dport {}", proto_name(r.proto), ports(r.port));
  return marked(s, mark, dnat_target(r));
}

std::string hairpin_rule(const DnatRule& r, const HairpinNet& h, uint32_t mark) {
  const bool v6 = is_v6(r.to_host);
  std::string s = fmt::format("oifname \"{}\" meta nfproto {} {} saddr {} {} daddr {} ", h.iface, nfproto(v6), ipkw(v6), h.subnet.str(), ipkw(v6), r.to_host);
  return s + fmt::format("ct status dnat ct mark 0x{:08x} masquerade", mark);
}

std::vector<bool> snat_families(const SnatRule& r) {
  if (r.to_lo) return {r.to_lo->family() == Family::v6};
  if (r.src) return {r.src->network().family() == Family::v6};
  if (r.families == Families::v4) return {false};
  if (r.families == Families::v6) return {true};
  return {};  // both, in one rule
}

std::string snat_rule(const SnatRule& r, uint32_t mark) {
  std::string s = fmt::format("oifname \"{}\" ", r.out_iface);
  const auto fams = snat_families(r);
  const bool v6 = !fams.empty() && fams[0];
  if (!fams.empty()) s += fmt::format("meta nfproto {} ", nfproto(v6));
  if (r.src) s += fmt::format("{} saddr {} ", ipkw(v6), r.src->str());
  if (r.to_ports) s += "meta l4proto { tcp, udp } ";  // a port range needs a transport match
  s.pop_back();
  if (!r.to_lo) return marked(s, mark, r.to_ports ? "masquerade to :" + ports(*r.to_ports) : std::string("masquerade"));
  std::string nat = fmt::format("snat {} to {}", ipkw(v6), r.to_ports ? bracketed(r.to_lo->str()) : r.to_lo->str());
  if (*r.to_hi != *r.to_lo) nat += "-" + (r.to_ports ? bracketed(r.to_hi->str()) : r.to_hi->str());
  if (r.to_ports) nat += ":" + ports(*r.to_ports);
  return marked(s, mark, nat);
}

}  // namespace

std::string nft_script(const Options& o, const RulesetParams& p) {
  std::string s = fmt::format("table inet {} {{\n", p.table);
  if (p.owner) s += "  flags owner;\n";
  s += "  counter edge_flows { }\n  counter edge_bytes { }\n";
  if (!o.dnat.empty()) {
    s += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n";
    for (const auto& r : o.dnat) s += "    " + dnat_rule(r, p.mark, false) + "\n";
    s += "  }\n";
    // The host's own connections: only rules not tied to an incoming interface.
    std::string out;
    for (const auto& r : o.dnat)
      if (r.in_iface.empty()) out += "    " + dnat_rule(r, p.mark, true) + "\n";
    if (!out.empty()) s += "  chain output {\n    type nat hook output priority -100; policy accept;\n" + out + "  }\n";
  }
  std::string post;
  for (size_t i = 0; i < o.dnat.size(); ++i)
    if (i < p.hairpin.size() && p.hairpin[i]) post += "    " + hairpin_rule(o.dnat[i], *p.hairpin[i], p.mark) + "\n";
  for (const auto& r : o.snat) post += "    " + snat_rule(r, p.mark) + "\n";
  if (!post.empty()) s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n" + post + "  }\n";
  // Bytes (no verdicts): every packet of a marked flow passes forward, input or output. New
  // flows are counted where they are marked above: nat chains see only a flow's first packet,
  // so that costs nothing per packet.
  const std::string m = fmt::format("ct mark 0x{:08x}", p.mark);
  for (const char* hook : {"forward", "input", "output"})
    s += fmt::format("  chain count_{} {{\n    type filter hook {} priority 300; policy accept;\n    {} counter name \"edge_bytes\"\n  }}\n", hook, hook, m);
  return s + "}\n";
}

std::string iptables_script(const Options& o, const RulesetParams& p) {
  // Comments, so the whole --dry-run output still loads with nft -f.
  std::string s = "# The same rules with iptables (not owned: they stay until deleted), marks included:\n";
  const std::string mark = fmt::format("-m connmark --mark 0 -j CONNMARK --set-mark 0x{:08x}", p.mark);
  for (size_t i = 0; i < o.dnat.size(); ++i) {
    const auto& r = o.dnat[i];
    const bool v6 = is_v6(r.to_host);
    const char* cmd = v6 ? "ip6tables" : "iptables";
    std::string match = fmt::format("-p {}", proto_name(r.proto));
    match += r.dst ? " -d " + r.dst->str() : std::string(" -m addrtype --dst-type LOCAL");
    match += " --dport " + (r.port.lo() == r.port.hi() ? std::to_string(r.port.lo()) : fmt::format("{}:{}", r.port.lo(), r.port.hi()));
    std::string to = bracketed(r.to_host);
    if (r.to_ports) {
      to += ":" + ports(*r.to_ports);
      if (r.to_ports->lo() != r.to_ports->hi()) to += "/" + std::to_string(r.port.lo());  // shift: one to one
    }
    for (const char* chain : {"PREROUTING", "OUTPUT"}) {
      if (std::string(chain) == "OUTPUT" && !r.in_iface.empty()) continue;
      const std::string in = std::string(chain) == "PREROUTING" && !r.in_iface.empty() ? " -i " + r.in_iface : "";
      s += fmt::format("# {} -t nat -A {}{} {} {}\n", cmd, chain, in, match, mark);
      s += fmt::format("# {} -t nat -A {}{} {} -j DNAT --to-destination {}\n", cmd, chain, in, match, to);
    }
    if (i < p.hairpin.size() && p.hairpin[i])
      s += fmt::format("# {} -t nat -A POSTROUTING -o {} -s {} -d {} -m conntrack --ctstate DNAT -j MASQUERADE\n", cmd, p.hairpin[i]->iface,
                       p.hairpin[i]->subnet.str(), r.to_host);
  }
  for (const auto& r : o.snat) {
    const auto fams = snat_families(r);
    const std::vector<bool> each = fams.empty() ? std::vector<bool>{false, true} : fams;
    for (bool v6 : each) {
      const char* cmd = v6 ? "ip6tables" : "iptables";
      std::string match = " -o " + r.out_iface + (r.src ? " -s " + r.src->str() : "");
      std::string target;
      if (!r.to_lo) target = "-j MASQUERADE" + (r.to_ports ? " --to-ports " + ports(*r.to_ports) : std::string());
      else {
        target = "-j SNAT --to-source " + r.to_lo->str() + (*r.to_hi != *r.to_lo ? "-" + r.to_hi->str() : "");
        if (r.to_ports) target += ":" + ports(*r.to_ports);
      }
      for (const char* proto : r.to_ports ? std::vector<const char*>{" -p tcp", " -p udp"} : std::vector<const char*>{""}) {
        s += fmt::format("# {} -t nat -A POSTROUTING{}{} {}\n", cmd, match, proto, mark);
        s += fmt::format("# {} -t nat -A POSTROUTING{}{} {}\n", cmd, match, proto, target);
      }
    }
  }
  return s;
}

}  // namespace edge::nat
