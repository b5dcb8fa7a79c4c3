// Matching flows against user filters; parsing the filter values that are not addresses.
#include "core/flow/filter.h"

#include <charconv>

namespace edge {

bool FlowFilter::matches(const Flow& f) const {
  if (proto && f.proto != *proto) return false;
  if (family && f.family != *family) return false;
  if (src && !src->contains(f.orig.src)) return false;
  if (dst && !dst->contains(f.orig.dst)) return false;
  if (sport && (!proto_has_ports(f.proto) || !sport->contains(f.orig.sport))) return false;
  if (dport && (!proto_has_ports(f.proto) || !dport->contains(f.orig.dport))) return false;
  if (state && f.state != *state) return false;
  if (mark && (f.mark & mark_mask.value_or(0xffffffff)) != *mark) return false;
  if (nat) {
    switch (*nat) {
      case NatFilter::snat: if (!f.snat) return false; break;
      case NatFilter::dnat: if (!f.dnat) return false; break;
      case NatFilter::any: if (!f.snat && !f.dnat) return false; break;
    }
  }
  return true;
}

namespace {

std::optional<uint32_t> parse_u32(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Parsed<MarkMatch> parse_mark(std::string_view text) {
  constexpr const char* accepted = "is not a mark (expected VALUE[/MASK], 32-bit decimal or 0x-hex, e.g. 0x10/0xff)";
  MarkMatch m;
  auto slash = text.find('/');
  auto v = parse_u32(text.substr(0, slash));
  if (!v) return std::string(accepted);
  m.value = *v;
  if (slash != std::string_view::npos) {
    auto mask = parse_u32(text.substr(slash + 1));
    if (!mask) return std::string(accepted);
    m.mask = *mask;
  }
  m.value &= m.mask;
  return m;
}

Parsed<NatFilter> parse_nat_filter(std::string_view text) {
  if (text == "snat") return NatFilter::snat;
  if (text == "dnat") return NatFilter::dnat;
  if (text == "any") return NatFilter::any;
  return std::string("is not a NAT kind (expected snat, dnat or any)");
}

}  // namespace edge
