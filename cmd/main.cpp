// edge: entry point. Registers the subcommands, maps every parse failure to exit code 2 with
// one line naming the problem, and turns edge::Fatal into its exit code.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <vector>

#include "cmd/commands.h"
#include "core/base/errors.h"

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The nearest subcommand name at any depth, for "did you mean" on a typo.
std::string nearest_command(const CLI::App& app, const std::string& word) {
  std::string best;
  size_t best_d = 3;  // suggest only close matches
  std::vector<const CLI::App*> todo{&app};
  while (!todo.empty()) {
    const CLI::App* a = todo.back();
    todo.pop_back();
    for (const CLI::App* sub : a->get_subcommands([](const CLI::App*) { return true; })) {
      size_t d = edit_distance(word, sub->get_name());
      if (d < best_d) best_d = d, best = sub->get_name();
      todo.push_back(sub);
    }
  }
  return best;
}

bool has_subcommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->check_name(name)) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that resets mid-write must be an EPIPE error for the code that wrote, not the end
  // of the process (splice and OpenSSL write without MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"edge: stand up a NAT box or proxy in one command, and find out which layer broke.", "edge"};
  app.set_version_flag("--version", std::string("edge ") + EDGE_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  edge conntrack stats              how full the kernel's connection table is, and why\n"
      "  edge conntrack list -p tcp --dport 443 --json\n"
      "  edge trace https://example.com/  which layer breaks on the way there\n"
      "Run 'edge COMMAND --help' for a command's flags; 'man edge' for exit codes.\n");
  edge::cmd::Runner runner;
  edge::cmd::add_conntrack(app, runner);
  edge::cmd::add_trace(app, runner);
  edge::cmd::add_rproxy(app, runner);
  edge::cmd::add_planned(app, runner);

  if (argc > 1 && argv[1][0] != '-' && !has_subcommand(app, argv[1])) {
    std::string word = argv[1], near = nearest_command(app, word);
    std::fprintf(stderr, "edge: unknown command '%s'; %s\n", word.c_str(),
                 near.empty() ? "expected one of conntrack, nat, proxy, rproxy, trace" : ("did you mean '" + near + "'?").c_str());
    return int(edge::Exit::usage);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) || dynamic_cast<const CLI::RequiredError*>(&e)) {
      // "The following argument was not expected: conntrak" -> suggest the nearest command.
      std::string word = msg.substr(msg.rfind(' ') + 1);
      std::string near = nearest_command(app, word);
      if (!near.empty() && word != near) msg = "unknown command '" + word + "'; did you mean '" + near + "'?";
    }
    std::fprintf(stderr, "edge: %s\n", msg.c_str());
    return int(edge::Exit::usage);
  }
  try {
    return runner ? runner() : int(edge::Exit::usage);
  } catch (const edge::Fatal& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "edge: %s\n", e.what());
    return int(e.code());
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "edge: internal error: %s\n", e.what());
    return int(edge::Exit::failed);
  }
}
