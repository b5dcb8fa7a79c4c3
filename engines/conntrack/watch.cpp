// `edge conntrack watch`: conntrack events as they happen, filtered, as lines or JSON lines.
// Lost events (the kernel's ENOBUFS) are counted exactly and reported; watching goes on.
#include <fmt/format.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>

#include "core/base/errors.h"
#include "core/base/netns.h"
#include "core/conntrack/kernel_table.h"
#include "core/out/flow_json.h"
#include "core/out/flow_text.h"
#include "engines/conntrack/options.h"

namespace edge::conntrack {
namespace {

const char* event_name(FlowEvent e) {
  switch (e) {
    case FlowEvent::created: return "new";
    case FlowEvent::updated: return "update";
    case FlowEvent::destroyed: return "destroy";
  }
  return "?";
}

std::string now_text() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ms);
}

// SIGINT/SIGTERM arrive on a descriptor, so stopping is an ordinary event of the loop.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigprocmask(SIG_BLOCK, &set_, &old_);
    fd_ = signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  ~StopSignals() {
    if (fd_ >= 0) close(fd_);
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  int fd() const { return fd_; }

 private:
  sigset_t set_, old_;
  int fd_ = -1;
};

}  // namespace

int run_watch(const WatchOptions& o) {
  if (!o.common.netns.empty()) enter_netns(o.common.netns, "--netns");
  StopSignals stop;
  EventStream events = EventStream::open(o.events, o.buffer_bytes);
  std::optional<JsonFlowWriter> json;
  if (o.common.json) json.emplace(stdout, JsonFlowWriter::Mode::lines);

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = o.timeout ? start + *o.timeout : std::chrono::steady_clock::time_point::max();
  uint64_t seen = 0;
  Flow flow;
  std::string line;
  while (!o.count || seen < *o.count) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    auto wait = o.timeout ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) : std::chrono::milliseconds(1 << 30);
    auto n = events.next(flow, wait, stop.fd());
    if (n.kind == EventStream::Next::interrupted) break;
    if (n.kind == EventStream::Next::timeout) continue;
    if (n.kind == EventStream::Next::lost) {
      std::fprintf(stderr, "edge: the kernel dropped %llu conntrack events (socket buffer full; raise --buffer); still watching\n",
                   (unsigned long long)n.lost_count);
      if (json) json->write(boost::json::object{{"event", "lost"}, {"time", now_text()}, {"count", n.lost_count}});
      continue;
    }
    if (!o.common.filter.matches(flow)) continue;
    ++seen;
    if (json) {
      unsigned char arena[4096];
      boost::json::monotonic_resource mr(arena, sizeof arena);
      auto obj = flow_to_json(flow, &mr);
      obj.emplace("event", event_name(n.type));
      obj.emplace("time", now_text());
      json->write(obj);
      continue;
    }
    std::vector<std::string> cells;
    flow_cells(flow, false, cells);
    line = fmt::format("{} {:<7} {:<5} {:<11} {}", now_text(), event_name(n.type), cells[0], cells[1], cells[2]);
    if (!cells[3].empty()) line += "  " + cells[3];
    if (n.type != FlowEvent::destroyed) line += "  timeout " + cells[4];
    if (!cells[6].empty()) line += "  " + cells[6];
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
  return 0;
}

Parsed<unsigned> parse_event_mask(std::string_view text) {
  unsigned mask = 0;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view word = text.substr(0, comma);
    if (word == "new") mask |= kEventNew;
    else if (word == "update") mask |= kEventUpdate;
    else if (word == "destroy") mask |= kEventDestroy;
    else if (word == "all") mask |= kEventNew | kEventUpdate | kEventDestroy;
    else return std::string("is not a list of events (expected new, update, destroy or all, comma-separated)");
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  if (!mask) return std::string("is empty (expected new, update, destroy or all, comma-separated)");
  return mask;
}

}  // namespace edge::conntrack
