// The subcommands main registers. Each adds its flags to the CLI11 app and returns the
// function to run once parsing succeeded (it returns the exit code).
#pragma once
#include <functional>

namespace CLI {
class App;
}

namespace edge::cmd {

using Runner = std::function<int()>;

// Registers `edge conntrack`; *runner is set when the command (or one of its subcommands) was chosen.
void add_conntrack(CLI::App& app, Runner& runner);
// Registers `edge trace`.
void add_trace(CLI::App& app, Runner& runner);
// Registers `edge rproxy`.
void add_rproxy(CLI::App& app, Runner& runner);
// Registers `edge proxy`.
void add_proxy(CLI::App& app, Runner& runner);
// Registers `edge nat`.
void add_nat(CLI::App& app, Runner& runner);

}  // namespace edge::cmd
