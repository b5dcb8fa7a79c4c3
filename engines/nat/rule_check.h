// From the text of one `snat`/`dnat` rule's flags to a checked rule: addresses parsed, families
// agreeing (-4/-6, --src, --dst, --to, --to-source), port ranges that map (one to one, or all to
// one port). A bad value throws the usage error naming the flag (exit 2).
#pragma once
#include <string>

#include "engines/nat/options.h"

namespace edge::nat {

struct SnatFlags {
  std::string out, src, to_source;
  bool v4 = false, v6 = false;
};

struct DnatFlags {
  std::string in, dst, proto, port, to, listen, to_source;
  bool hairpin = false, v4 = false, v6 = false;
};

SnatRule check_snat(const SnatFlags& f);
DnatRule check_dnat(const DnatFlags& f, Engine engine);

}  // namespace edge::nat
