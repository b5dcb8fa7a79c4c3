// ip_forward handover between edge nat instances; see forwarding.h.
#include "engines/nat/forwarding.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <sstream>

#include "core/base/fd.h"
#include "core/control/control.h"

namespace edge::nat {
namespace {

const char* const kSysctl[2] = {"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"};
const char* const kName[2] = {"ipv4", "ipv6"};

std::string read_value(const char* path) {
  std::ifstream in(path);
  std::string v;
  in >> v;
  return v;
}

bool write_value(const char* path, const std::string& v) {
  std::ofstream out(path);
  out << v << "\n";
  out.flush();
  return bool(out);
}

// One file per network namespace (its inode), as forwarding is per namespace.
std::string state_path() {
  struct stat st{};
  stat("/proc/self/ns/net", &st);
  return control_dir() + "/nat-forwarding-" + std::to_string(st.st_ino) + ".state";
}

bool edge_alive(long pid) {
  if (pid <= 0 || (kill(pid_t(pid), 0) < 0 && errno != EPERM)) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  comm >> name;
  return name == "edge";
}

// The state: the value saved per family ("" when this family was not changed) and the pids.
struct State {
  std::map<int, std::string> saved;
  std::vector<long> pids;
};

State parse(const std::string& text) {
  State s;
  std::istringstream in(text);
  std::string key;
  while (in >> key) {
    if (key == "pids") {
      std::string rest;
      std::getline(in, rest);
      std::istringstream p(rest);
      long pid;
      while (p >> pid) s.pids.push_back(pid);
    } else {
      std::string v;
      in >> v;
      for (int f = 0; f < 2; ++f)
        if (key == kName[f]) s.saved[f] = v;
    }
  }
  return s;
}

std::string render(const State& s) {
  std::string out;
  for (auto& [f, v] : s.saved) out += std::string(kName[f]) + " " + v + "\n";
  out += "pids";
  for (long p : s.pids) out += " " + std::to_string(p);
  return out + "\n";
}

// Runs `change` on the state under an exclusive lock; writes it back (or removes the file
// when it holds nothing).
template <class F>
bool with_state(F&& change) {
  mkdir(control_dir().c_str(), 0700);
  const std::string path = state_path();
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd || flock(fd.get(), LOCK_EX) < 0) return false;
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  State s = parse(text);
  std::erase_if(s.pids, [](long p) { return !edge_alive(p); });
  change(s);
  if (s.pids.empty() && s.saved.empty()) {
    unlink(path.c_str());
    return true;
  }
  const std::string out = render(s);
  if (ftruncate(fd.get(), 0) < 0 || pwrite(fd.get(), out.data(), out.size(), 0) < 0) return false;
  return true;
}

// With no live instance, puts back what the file saved. Returns what it did.
std::vector<std::string> restore_saved(State& s) {
  std::vector<std::string> done;
  if (!s.pids.empty()) return done;
  for (auto& [f, v] : s.saved)
    if (write_value(kSysctl[f], v)) done.push_back(std::string(kName[f]) + " forwarding put back to " + v);
  s.saved.clear();
  return done;
}

}  // namespace

Forwarding::Forwarding(bool v4, bool v6, bool keep_on_exit) : keep_(keep_on_exit) {
  const bool want[2] = {v4, v6};
  registered_ = with_state([&](State& s) {
    for (auto& line : restore_saved(s)) notes_.push_back(line + " (left on by an edge nat that was killed)");
    for (int f = 0; f < 2; ++f) {
      if (!want[f]) continue;
      const std::string now = read_value(kSysctl[f]);
      if (now.empty() || now == "1") continue;
      if (!write_value(kSysctl[f], "1")) {
        notes_.push_back(std::string("WARNING: could not turn ") + kName[f] + " forwarding on: forwarded traffic will not pass");
        continue;
      }
      notes_.push_back(std::string(kName[f]) + " forwarding turned on (was " + now + ")");
      if (!keep_ && !s.saved.count(f)) s.saved[f] = now;
    }
    if (!keep_) s.pids.push_back(getpid());
  });
}

Forwarding::~Forwarding() {
  if (!registered_ || keep_) return;
  with_state([](State& s) {
    std::erase(s.pids, long(getpid()));
    restore_saved(s);
  });
}

std::vector<std::string> Forwarding::restore_orphaned() {
  std::vector<std::string> done;
  with_state([&](State& s) { done = restore_saved(s); });
  return done;
}

}  // namespace edge::nat
