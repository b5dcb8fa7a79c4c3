// Commands whose engines are not built yet. Their --help already says what they will do, so
// users (and scripts probing for features) get a straight answer: exit 4, one line.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "core/base/errors.h"

namespace edge::cmd {
namespace {

struct Planned {
  const char* name;
  const char* summary;
  const char* details;
};

constexpr Planned kPlanned[] = {
    {"nat", "An ad hoc SNAT/masquerade/DNAT box: kernel rules that vanish when edge exits (not built yet)",
     "Planned: nftables rules in a table owned by this process (removed by the kernel even on SIGKILL),\n"
     "conntrack entries of its flows swept at exit, or a userspace TCP/UDP forwarder that needs no root."},
};

}  // namespace

void add_planned(CLI::App& app, Runner& runner) {
  for (const Planned& p : kPlanned) {
    CLI::App* sub = app.add_subcommand(p.name, p.summary);
    sub->footer(std::string(p.details) + "\n");
    sub->callback([&runner, name = std::string(p.name)] {
      runner = [name]() -> int {
        throw Fatal(Exit::environment, name + ": not built yet in this version of edge (see 'edge " + name + " --help')");
      };
    });
  }
}

}  // namespace edge::cmd
