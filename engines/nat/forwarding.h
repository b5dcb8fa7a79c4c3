// IP forwarding for the kernel engine: turned on while edge nat runs, and put back when the
// last running instance in this network namespace exits. The value from before the first
// instance is kept in a state file that instances hand over (with the pids still using it),
// so a second instance exiting never turns forwarding off under the first. After SIGKILL the
// file remains: the next start, or `edge nat flush`, restores the value when no pid is alive.
#pragma once
#include <string>
#include <vector>

namespace edge::nat {

class Forwarding {
 public:
  // Turns forwarding on for the families asked (when it is off). Failures become warnings:
  // the rules still load, and the status says forwarding is off.
  Forwarding(bool v4, bool v6, bool keep_on_exit);
  ~Forwarding();
  Forwarding(const Forwarding&) = delete;
  Forwarding& operator=(const Forwarding&) = delete;

  // What happened, for the start lines: "ipv4 forwarding turned on (was 0)".
  const std::vector<std::string>& notes() const { return notes_; }

  // For `edge nat flush`: when no instance is alive, restores what a killed one left on.
  // Returns what it did, one line each.
  static std::vector<std::string> restore_orphaned();

 private:
  bool keep_ = false, registered_ = false;
  std::vector<std::string> notes_;
};

}  // namespace edge::nat
