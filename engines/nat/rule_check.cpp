// Checking one rule's flags; see rule_check.h.
#include "engines/nat/rule_check.h"

#include "core/base/errors.h"
#include "core/net/nat_spec.h"

namespace edge::nat {
namespace {

const char* family_name(Family f) { return f == Family::v4 ? "IPv4" : "IPv6"; }

// Narrows `fam` by an address given in `flag`; a conflict is a usage error.
void narrow(Families& fam, const IpAddr& a, const std::string& flag, const std::string& value) {
  const Families want = a.family() == Family::v4 ? Families::v4 : Families::v6;
  if (fam != Families::both && fam != want)
    throw usage_error(flag, value, std::string("is ") + family_name(a.family()) + ", but the rule is " + (fam == Families::v4 ? "IPv4" : "IPv6") +
                                       " (from -4/-6 or another address in it)");
  fam = want;
}

Families from_flags(bool v4, bool v6) {
  if (v4 && v6) return Families::both;  // -4 -6: both, as given
  return v4 ? Families::v4 : v6 ? Families::v6 : Families::both;
}

void check_iface(const std::string& flag, const std::string& name) {
  if (name.empty() || name.size() > 15 || name.find_first_of("/ \t\"'\\") != std::string::npos || name == "." || name == "..")
    throw usage_error(flag, name, "is not an interface name (1-15 characters, no '/', spaces or quotes)");
}

}  // namespace

SnatRule check_snat(const SnatFlags& f) {
  SnatRule r;
  r.families = from_flags(f.v4, f.v6);
  check_iface("--out", f.out);
  r.out_iface = f.out;
  if (!f.src.empty()) {
    auto c = Cidr::parse(f.src);
    if (!c) throw usage_error("--src", f.src, c.error());
    narrow(r.families, c->network(), "--src", f.src);
    r.src = *c;
  }
  if (!f.to_source.empty()) {
    auto t = parse_addr_range_ports(f.to_source);
    if (!t) throw usage_error("--to-source", f.to_source, t.error());
    narrow(r.families, t->lo, "--to-source", f.to_source);
    r.to_lo = t->lo, r.to_hi = t->hi, r.to_ports = t->ports;
  }
  return r;
}

DnatRule check_dnat(const DnatFlags& f, Engine engine) {
  DnatRule r;
  r.families = from_flags(f.v4, f.v6);
  if (f.proto == "tcp") r.proto = Proto::tcp;
  else if (f.proto == "udp") r.proto = Proto::udp;
  else throw usage_error("--proto", f.proto, "is not a protocol edge nat forwards (expected tcp or udp)");

  if (!f.listen.empty()) {
    if (!f.port.empty()) throw usage_error("--listen", f.listen, "cannot be used with --port (--listen [ADDR:]PORT says both)");
    if (!f.dst.empty()) throw usage_error("--listen", f.listen, "cannot be used with --dst (--listen ADDR:PORT says both)");
    auto l = parse_listen_spec(f.listen);
    if (!l) throw usage_error("--listen", f.listen, l.error());
    r.port = l->ports;
    if (l->addr) {
      narrow(r.families, *l->addr, "--listen", f.listen);
      if (engine == Engine::user) r.listen_addr = *l->addr;
      else r.dst = *l->addr;
    }
  } else {
    if (engine == Engine::user) throw usage_error("--engine", "user", "forwards what it listens on: give each dnat rule --listen [ADDR:]PORT");
    if (f.port.empty()) throw Fatal(Exit::usage, "dnat: --port PORT[-PORT] is required (the port to forward)");
    auto p = PortRange::parse(f.port);
    if (!p) throw usage_error("--port", f.port, p.error());
    r.port = *p;
    if (!f.dst.empty()) {
      auto a = IpAddr::parse(f.dst);
      if (!a) throw usage_error("--dst", f.dst, a.error());
      narrow(r.families, *a, "--dst", f.dst);
      r.dst = *a;
    }
  }
  if (!f.in.empty()) {
    if (engine == Engine::user) throw usage_error("--in", f.in, "is for kernel rules; the user engine listens with --listen ADDR:PORT");
    check_iface("--in", f.in);
    r.in_iface = f.in;
  }

  if (f.to.empty()) throw Fatal(Exit::usage, "dnat: --to ADDR[:PORT[-PORT]] is required (where to forward)");
  auto t = parse_host_ports(f.to);
  if (!t) throw usage_error("--to", f.to, t.error());
  r.to_host = t->host;
  r.to_ports = t->ports;
  if (auto a = IpAddr::parse(t->host)) {
    narrow(r.families, *a, "--to", f.to);
  } else if (engine == Engine::kernel) {
    throw usage_error("--to", f.to, "is not an IP address; kernel NAT translates to addresses (names work with --engine user)");
  }
  if (engine == Engine::user && !r.to_ports) throw usage_error("--to", f.to, "needs a port (HOST:PORT) with the user engine");
  if (r.to_ports) {
    const unsigned in_size = r.port.hi() - r.port.lo() + 1, out_size = r.to_ports->hi() - r.to_ports->lo() + 1;
    if (out_size != 1 && out_size != in_size)
      throw usage_error("--to", f.to,
                        "maps " + std::to_string(in_size) + " ports onto " + std::to_string(out_size) +
                            " (expected one port, or a range of the same size to map one to one)");
  }
  if (f.hairpin && engine == Engine::user) throw usage_error("--hairpin", "", "is for kernel rules (the user engine needs no hairpin)");
  r.hairpin = f.hairpin;
  if (!f.to_source.empty()) {
    if (engine != Engine::user) throw usage_error("--to-source", f.to_source, "on dnat is for the user engine; kernel rules use an snat rule");
    auto a = IpAddr::parse(f.to_source);
    if (!a) throw usage_error("--to-source", f.to_source, a.error());
    r.to_source = *a;
  }
  return r;
}

}  // namespace edge::nat
