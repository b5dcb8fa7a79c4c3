// Listening sockets from /proc/net/tcp{,6} (bound ones from /proc/net/udp{,6}), their processes
// from /proc/*/fd.
#include "core/net/port_owner.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

namespace edge {
namespace {

constexpr const char* kListen = "0A";  // TCP_LISTEN in /proc/net/tcp's st column
constexpr const char* kUnconnected = "07";  // TCP_CLOSE: a UDP socket bound but not connected

std::set<std::string> listening_inodes(uint16_t port, PortProto proto) {
  std::set<std::string> inodes;
  const bool udp = proto == PortProto::udp;
  static constexpr const char* kTcpTables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  static constexpr const char* kUdpTables[] = {"/proc/net/udp", "/proc/net/udp6"};
  const char* const state = udp ? kUnconnected : kListen;
  for (const char* table : udp ? kUdpTables : kTcpTables) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
      if (!(f >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode)) continue;
      const auto colon = local.rfind(':');
      if (st != state || colon == std::string::npos) continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) inodes.insert("socket:[" + inode + "]");
    }
  }
  return inodes;
}

}  // namespace

std::string port_owner(uint16_t port, PortProto proto) {
  const auto inodes = listening_inodes(port, proto);
  if (inodes.empty()) return "";
  DIR* proc = opendir("/proc");
  if (!proc) return "";
  std::string found;
  while (dirent* p = readdir(proc)) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9' || std::to_string(getpid()) == p->d_name) continue;
    const std::string fd_dir = std::string("/proc/") + p->d_name + "/fd";
    DIR* fds = opendir(fd_dir.c_str());
    if (!fds) continue;
    while (dirent* fd = readdir(fds)) {
      char target[64];
      const ssize_t n = readlink((fd_dir + "/" + fd->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0 || !inodes.count(std::string(target, size_t(n)))) continue;
      std::ifstream comm(std::string("/proc/") + p->d_name + "/comm");
      std::string name;
      std::getline(comm, name);
      found = std::string("pid ") + p->d_name + (name.empty() ? "" : " (" + name + ")");
      break;
    }
    closedir(fds);
    if (!found.empty()) break;
  }
  closedir(proc);
  return found;
}

}  // namespace edge
