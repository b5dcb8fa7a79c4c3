// edge: entry point. Registers the subcommands, maps every parse failure to exit code 2 with
// one line naming the problem, and turns edge::Fatal into its exit code.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cmd/commands.h"
#include "core/base/errors.h"
#include "core/base/text.h"
#include "core/version/version.h"

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
      const std::string& name = sub->get_name();
      const size_t d = edit_distance(word, name);
      // On a tie, a name the word begins ("stat" -> "stats", not "snat") is the likelier one.
      const bool prefix_wins = d == best_d && name.rfind(word, 0) == 0 && best.rfind(word, 0) != 0;
      if (d < best_d || prefix_wins) best_d = d, best = name;
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

// The short usage of `edge`, `edge help` and `edge --bogus`: the commands and where to read on.
std::string short_usage(const CLI::App& app) {
  std::string s = "usage: edge COMMAND [FLAGS] [ARGS]\n\ncommands:\n";
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    std::string line = "  " + sub->get_name();
    line.resize(13, ' ');
    s += line + sub->get_description() + "\n";
  }
  s += "  help       A command's flags and examples: edge help COMMAND\n";
  s += "\nRun 'edge COMMAND --help' for a command's flags and examples, 'edge --help' for all, 'man edge' for exit codes.\n";
  return s;
}

// CLI11 2.1.2 lists unexpected arguments last to first; users read them in the order typed.
std::string extras_in_order(const std::string& listed, int argc, char** argv) {
  std::vector<std::string> words;
  for (size_t at = 0; at < listed.size();) {
    size_t sp = listed.find(' ', at);
    if (sp == std::string::npos) sp = listed.size();
    if (sp > at) words.push_back(listed.substr(at, sp - at));
    at = sp + 1;
  }
  std::string out;
  for (int i = 1; i < argc && !words.empty(); ++i) {
    auto it = std::find(words.begin(), words.end(), argv[i]);
    if (it == words.end()) continue;
    out += (out.empty() ? "" : " ") + *it;
    words.erase(it);
  }
  for (auto& w : words) out += (out.empty() ? "" : " ") + w;  // anything not found verbatim
  return out;
}

// Every message main prints goes through printable(): CLI11 echoes arguments as typed.
int usage_line(const std::string& msg) {
  std::fprintf(stderr, "edge: %s\n", edge::printable(msg, edge::kMessageBytes).c_str());
  return int(edge::Exit::usage);
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that resets mid-write must be an EPIPE error for the code that wrote, not the end
  // of the process (splice and OpenSSL write without MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"edge: stand up a NAT box or proxy in one command, and find out which layer broke.", "edge"};
  // --verbose is read through its count when --version's callback runs, whichever came first.
  const std::string verbose_help = "With --version: also the versions of the libraries edge uses (for a bug report)";
  const CLI::Option* verbose = app.add_flag("--verbose", verbose_help);
  app.set_version_flag(
      "--version", [verbose] { return verbose->count() ? edge::version_report() : edge::version_line(); },
      "Print the version and the commit edge was built from, and exit");
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
  edge::cmd::add_proxy(app, runner);
  edge::cmd::add_nat(app, runner);

  auto unknown_command = [&](const std::string& word) {
    const std::string near = nearest_command(app, word);
    return usage_line("unknown command '" + word + "'; " +
                      (near.empty() ? "run 'edge help' for the commands" : "did you mean '" + near + "'?"));
  };
  if (argc == 1) {
    std::fputs(short_usage(app).c_str(), stderr);
    return int(edge::Exit::usage);
  }
  const std::string first = argv[1];
  // `edge help [COMMAND [SUBCOMMAND]]`, as git does: the short usage, or that command's --help.
  std::vector<std::string> help_args;
  if (first == "help") {
    if (argc == 2 || (argc == 3 && std::strcmp(argv[2], "help") == 0)) {
      std::fputs(short_usage(app).c_str(), stdout);
      return 0;
    }
    if (!has_subcommand(app, argv[2])) return unknown_command(argv[2]);
    help_args.push_back(argv[0]);
    for (int i = 2; i < argc; ++i) help_args.push_back(argv[i]);
    help_args.push_back("--help");
  } else if (first[0] == '-' && first != "-h" && first != "--help" && first != "--help-all" && first != "--version" &&
             first != "--verbose") {
    // No flag belongs to `edge` itself but these: a flag here means the command is missing.
    usage_line("unknown flag '" + first + "'; a COMMAND comes first");
    std::fputs(short_usage(app).c_str(), stderr);
    return int(edge::Exit::usage);
  } else if (first[0] != '-' && !has_subcommand(app, first)) {
    return unknown_command(first);
  }
  // The flags before the command: --verbose alone would be silently ignored.
  bool version_flag = false, verbose_flag = false;
  for (int i = 1; i < argc && argv[i][0] == '-'; ++i) {
    version_flag = version_flag || std::strcmp(argv[i], "--version") == 0;
    verbose_flag = verbose_flag || std::strcmp(argv[i], "--verbose") == 0;
  }
  if (verbose_flag && !version_flag) return usage_line("--verbose: only with --version (edge --version --verbose)");
  std::vector<char*> args;
  for (auto& a : help_args) args.push_back(a.data());
  if (!help_args.empty()) argc = int(args.size()), argv = args.data();
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
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
      const auto colon = msg.find(": ");
      const std::string listed = colon == std::string::npos ? std::string() : msg.substr(colon + 2);
      const std::string ordered = extras_in_order(listed, argc, argv);
      // "The following argument was not expected: conntrak" -> suggest the nearest command.
      const std::string near = ordered.find(' ') == std::string::npos ? nearest_command(app, ordered) : std::string();
      if (!near.empty() && ordered != near) return usage_line("unknown command '" + ordered + "'; did you mean '" + near + "'?");
      if (!listed.empty()) msg = msg.substr(0, colon) + ": " + ordered;
    } else if (dynamic_cast<const CLI::RequiredError*>(&e)) {
      std::string word = msg.substr(msg.rfind(' ') + 1);
      std::string near = nearest_command(app, word);
      if (!near.empty() && word != near) msg = "unknown command '" + word + "'; did you mean '" + near + "'?";
    }
    return usage_line(msg);
  }
  try {
    return runner ? runner() : int(edge::Exit::usage);
  } catch (const edge::Fatal& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "edge: %s\n", e.what());  // Fatal made its text printable
    return int(e.code());
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "edge: internal error: %s\n", edge::printable(e.what(), edge::kMessageBytes).c_str());
    return int(edge::Exit::failed);
  }
}
