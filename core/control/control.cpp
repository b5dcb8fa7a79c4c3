// Control socket server (one thread, poll on the listener and a stop eventfd) and reader.
#include "core/control/control.h"

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>

#include "core/out/flow_json.h"

namespace edge {
namespace json = boost::json;

std::string control_dir() {
  // Root of a user namespace (`unshare -Ur`) is root without /run: it goes where users go.
  if (geteuid() == 0 && access("/run", W_OK) == 0) return "/run/edge";
  return "/tmp/edge-" + std::to_string(geteuid());
}

namespace {

bool fill_addr(const std::string& path, sockaddr_un& sa) {
  std::memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) return false;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return true;
}

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += size_t(n);
  }
}

// The request a reader sends: one line. Older readers send nothing; they get the flows.
std::string read_request(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 500) <= 0) return {};
  char buf[64];
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return {};
  std::string line(buf, size_t(n));
  return line.substr(0, line.find('\n'));
}

}  // namespace

ControlServer::ControlServer(const FlowTable& table, const std::string& command, std::function<std::string()> status)
    : table_(table), status_(std::move(status)) {
  const std::string dir = control_dir();
  mkdir(dir.c_str(), 0700);
  // A directory someone else made first could serve forged flows: it must be ours alone.
  struct stat st;
  if (lstat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
    error_ = dir + " is not a directory owned by this user and writable only by it";
    return;
  }
  path_ = dir + "/" + command + "-" + std::to_string(getpid()) + ".sock";
  sockaddr_un sa;
  listen_fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  unlink(path_.c_str());
  if (!listen_fd_ || !stop_fd_ || !fill_addr(path_, sa) || bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 ||
      listen(listen_fd_.get(), 16) < 0) {
    error_ = path_ + ": " + std::strerror(errno);
    path_.clear();
    return;
  }
  thread_ = std::thread([this] {
    while (true) {
      pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
      if (poll(p, 2, -1) < 0 && errno != EINTR) return;
      if (p[1].revents) return;
      if (!(p[0].revents & POLLIN)) continue;
      UniqueFd c(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      timeval tv{2, 0};  // a reader that never reads must not hold this thread (and shutdown)
      setsockopt(c.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (read_request(c.get()) == "status" && status_) {
        write_all(c.get(), status_());
        continue;
      }
      json::array flows;
      for (const Flow& f : table_.snapshot()) flows.push_back(flow_to_json(f, {}));
      write_all(c.get(), json::serialize(flows));
    }
  });
}

ControlServer::~ControlServer() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (write(stop_fd_.get(), &one, sizeof one) < 0) {}
    thread_.join();
  }
  if (!path_.empty()) unlink(path_.c_str());
}

std::vector<Flow> flows_from_json(const std::string& text) {
  std::vector<Flow> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  auto num = [](const json::object& o, const char* k) -> uint64_t {
    auto* x = o.if_contains(k);
    return x && x->is_number() ? x->to_number<uint64_t>() : 0;
  };
  auto tuple = [&](const json::object& o, Tuple& t) {
    if (auto a = IpAddr::parse(json::value_to<std::string>(o.at("src")))) t.src = *a;
    if (auto a = IpAddr::parse(json::value_to<std::string>(o.at("dst")))) t.dst = *a;
    t.sport = uint16_t(num(o, "sport"));
    t.dport = uint16_t(num(o, "dport"));
  };
  for (const auto& item : v.as_array()) {
    try {
      const auto& o = item.as_object();
      Flow f;
      f.origin = json::value_to<std::string>(o.at("origin"));
      f.family = o.at("family") == "ipv6" ? Family::v6 : Family::v4;
      auto proto = parse_proto(json::value_to<std::string>(o.at("proto")));
      if (!proto) continue;
      f.proto = *proto;
      if (o.at("state").is_string())
        if (auto st = parse_tcp_state(json::value_to<std::string>(o.at("state")))) f.state = *st;
      f.timeout = uint32_t(num(o, "timeout"));
      f.mark = uint32_t(num(o, "mark"));
      f.id = uint32_t(num(o, "id"));
      tuple(o.at("orig").as_object(), f.orig);
      tuple(o.at("reply").as_object(), f.reply);
      for (const auto& n : o.at("nat").as_array()) {
        if (n == "snat") f.snat = true;
        if (n == "dnat") f.dnat = true;
      }
      f.assured = o.at("assured").as_bool();
      f.unreplied = o.at("unreplied").as_bool();
      if (o.at("counters").is_object()) {
        const auto& c = o.at("counters").as_object();
        f.orig_counters = Counters{num(c.at("orig").as_object(), "packets"), num(c.at("orig").as_object(), "bytes")};
        f.reply_counters = Counters{num(c.at("reply").as_object(), "packets"), num(c.at("reply").as_object(), "bytes")};
      }
      out.push_back(std::move(f));
    } catch (const std::exception&) {
      // One malformed entry from a peer process is skipped, not fatal.
    }
  }
  return out;
}

std::vector<ControlReply> query_control(const std::string& request, const std::string& command) {
  std::vector<ControlReply> out;
  const std::string dir = control_dir();
  struct stat st;
  if (lstat(dir.c_str(), &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) return out;  // not ours: trust nothing in it
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (!d) return out;
  while (dirent* e = readdir(d.get())) {
    std::string name = e->d_name;
    if (name.size() < 6 || name.substr(name.size() - 5) != ".sock") continue;
    if (!command.empty() && name.rfind(command + "-", 0) != 0) continue;
    const std::string path = dir + "/" + name;
    sockaddr_un sa;
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd || !fill_addr(path, sa)) continue;
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
      if (errno == ECONNREFUSED) unlink(path.c_str());  // its process is gone (killed): a stale file
      continue;
    }
    timeval tv{2, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    write_all(fd.get(), request + "\n");
    ControlReply r{path, {}};
    char buf[65536];
    ssize_t n;
    while ((n = read(fd.get(), buf, sizeof buf)) > 0) r.text.append(buf, size_t(n));
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Flow> read_edge_flows() {
  std::vector<Flow> out;
  for (const ControlReply& r : query_control("flows", ""))
    for (auto& f : flows_from_json(r.text)) out.push_back(std::move(f));
  return out;
}

}  // namespace edge
