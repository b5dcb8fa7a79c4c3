// Exit codes and the one error type that carries a user-facing failure up to main.
// Exit codes are part of edge's interface (see man/edge.1); every failure maps to exactly one.
#pragma once
#include <stdexcept>
#include <string>

#include "core/base/text.h"

namespace edge {

enum class Exit : int {
  ok = 0,
  failed = 1,       // the job failed, or a diagnosis/threshold found a problem
  usage = 2,        // bad flag or value; nothing was started
  privilege = 3,    // needs CAP_NET_ADMIN / root
  environment = 4,  // the machine lacks something (no netfilter, not built yet, ...)
};

// How long a whole message may get; it is one line on a terminal.
constexpr size_t kMessageBytes = 512;

// Thrown by engines for failures the user must see; main prints "edge: <what>" and exits.
// Only ever thrown before or outside async work, never across an event loop. Messages echo
// user values and peers' bytes, so the text is made printable here, once for every message.
class Fatal : public std::runtime_error {
 public:
  Fatal(Exit code, const std::string& what) : std::runtime_error(printable(what, kMessageBytes)), code_(code) {}
  Exit code() const { return code_; }

 private:
  Exit code_;
};

// How long an echoed value may get in a message before it is cut.
constexpr size_t kShownValueBytes = 64;

// A bad flag value: "--FLAG: 'VALUE' <problem>"; kept in one place so every message reads alike.
// The value is the user's bytes: control characters are escaped (an echoed ESC must not drive
// the terminal) and a long value is cut.
inline Fatal usage_error(const std::string& flag, const std::string& value, const std::string& problem) {
  return Fatal(Exit::usage, flag + ": '" + printable(value, kShownValueBytes) + "' " + problem);
}

}  // namespace edge
