// setns(2) into a network namespace by `ip netns` name or path.
#include "core/base/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/base/errors.h"

namespace edge {

void enter_netns(const std::string& name, const std::string& flag) {
  if (name.empty() || name == "." || name == "..")
    throw usage_error(flag, name, "is not a namespace name (see `ip netns list`)");
  const std::string path = name.find('/') != std::string::npos ? name : "/run/netns/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw usage_error(flag, name, "names no network namespace (see `ip netns list`)");
    if (errno == EACCES) throw Fatal(Exit::privilege, flag + ": entering a network namespace needs root");
    throw Fatal(Exit::failed, flag + ": " + path + ": " + std::strerror(errno));
  }
  int r = setns(fd, CLONE_NEWNET);
  int err = errno;
  ::close(fd);
  if (r < 0) {
    if (err == EPERM) throw Fatal(Exit::privilege, flag + ": entering a network namespace needs CAP_SYS_ADMIN (run as root)");
    throw usage_error(flag, name, std::string("is not a network namespace (") + std::strerror(err) + ")");
  }
}

}  // namespace edge
