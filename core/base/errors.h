// Exit codes and the one error type that carries a user-facing failure up to main.
// Exit codes are part of edge's interface (see man/edge.1); every failure maps to exactly one.
#pragma once
#include <stdexcept>
#include <string>

namespace edge {

enum class Exit : int {
  ok = 0,
  failed = 1,       // the job failed, or a diagnosis/threshold found a problem
  usage = 2,        // bad flag or value; nothing was started
  privilege = 3,    // needs CAP_NET_ADMIN / root
  environment = 4,  // the machine lacks something (no netfilter, not built yet, ...)
};

// Thrown by engines for failures the user must see; main prints "edge: <what>" and exits.
// Only ever thrown before or outside async work, never across an event loop.
class Fatal : public std::runtime_error {
 public:
  Fatal(Exit code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Exit code() const { return code_; }

 private:
  Exit code_;
};

// A bad flag value: "--FLAG: 'VALUE' <problem>"; kept in one place so every message reads alike.
inline Fatal usage_error(const std::string& flag, const std::string& value, const std::string& problem) {
  return Fatal(Exit::usage, flag + ": '" + value + "' " + problem);
}

}  // namespace edge
