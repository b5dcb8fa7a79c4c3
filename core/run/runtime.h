// The core runtime every proxy engine runs on: one io_context per thread, each with its own
// SO_REUSEPORT listener, deadline list (core/net/deadlines.h) and idle set (core/run/idle.h),
// so no lock sits on a connection's path. It accepts (bounded by max_conns), parks a fresh
// connection that has sent nothing yet, sweeps deadlines and idle waiters, brings parked
// connections back when they become readable, serves the flow table on the control socket,
// and drains on SIGINT/SIGTERM (SIGHUP: the handler reopens its logs). What a connection
// means is the engine's: a Handler starts a session for each.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/duration.h"
#include "core/base/errors.h"
#include "core/flow/table.h"
#include "core/net/addr.h"
#include "core/net/deadlines.h"
#include "core/net/port_owner.h"
#include "core/net/stream.h"
#include "core/run/idle.h"
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

namespace edge {
class ControlServer;
}

namespace edge::run {

using tcp = boost::asio::ip::tcp;

struct Settings {
  std::string command;              // "rproxy", "proxy": message prefix, flow table and control socket
  Endpoint listen;                  // empty host: any_host
  std::string any_host = "0.0.0.0";
  unsigned threads = 0;             // 0: one per core
  unsigned max_conns = 10000;       // over it, a new connection is closed at once
  Millis header_timeout{10000};     // a fresh connection's first request (or first bytes)
  Millis idle_timeout{60000};       // the flow's timeout as `edge conntrack` shows it
  Millis drain{10000};              // SIGTERM: how long connections in flight may finish
  bool park_fresh = true;           // a new connection that sent nothing waits parked
};

class Runtime;

// One thread's share of the runtime.
struct Worker {
  size_t index;  // 0 .. threads-1: the handler's per-thread state is indexed by it
  Runtime& rt;
  boost::asio::io_context& ctx;
  Idle idle;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Serve `s` on w's thread (co_spawn on w.ctx): a connection just accepted (no `parked`), or
  // one back from the parked set, whose place in conns() and flow it now owns.
  virtual void start(tcp::socket s, Worker& w, std::optional<Idle::Parked> parked) = 0;
  // The tag a fresh connection is parked with (Idle::Parked::tag).
  virtual uint8_t tag_for(const IpAddr&) { return 0; }
  virtual void accepted() {}     // every connection taken under max_conns
  virtual void reopen_logs() {}  // SIGHUP
};

// A live connection's place in conns(): --max-conns and the drain wait for it.
struct ConnCount {
  std::atomic<unsigned>& n;
  // adopt: the connection is already counted (it comes back from the parked set).
  explicit ConnCount(std::atomic<unsigned>& c, bool adopt = false) : n(c) {
    if (!adopt) ++n;
  }
  ~ConnCount() { --n; }
  ConnCount(const ConnCount&) = delete;
  ConnCount& operator=(const ConnCount&) = delete;
};

// A listening socket on `where` (`flag` names it in errors; an empty host is `any_host`).
// `reuseport`: shared by this process's threads; `check_free` first makes sure no other
// program holds the port (SO_REUSEPORT would let edge share it). Throws Fatal: exit 1 naming
// the holder of a taken port, 3 for a privileged port.
tcp::acceptor listen_on(boost::asio::io_context& ctx, const Endpoint& where, const std::string& flag, const std::string& any_host, bool reuseport,
                        bool check_free);
// Why binding `shown` (as `flag` names it) failed, as the user reads it: a port in use names
// its holder (exit 1), a port below 1024 needs root (exit 3), else the system's words (exit 1).
Fatal bind_failure(const boost::system::error_code& ec, const std::string& flag, const std::string& shown, uint16_t port, PortProto proto);
// "0.0.0.0:28093", "[::1]:8080": where an acceptor really listens.
std::string endpoint_text(const tcp::acceptor& acc);

class Runtime {
 public:
  // Binds every thread's listener: a taken port or a bad address ends here, before anything runs.
  Runtime(Settings s, Handler& h);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  unsigned threads() const { return unsigned(ctxs_.size()); }
  boost::asio::io_context& main() { return *ctxs_[0]; }  // the first thread: an engine's own loops
  std::string listen_text() const { return endpoint_text(acceptors_[0]); }
  FlowTable& flows() { return flows_; }
  std::atomic<unsigned>& conns() { return conns_; }
  bool draining() const { return draining_; }
  const Settings& settings() const { return s_; }
  // The flow of a client connection, conntrack-style: original = client -> our listener, reply
  // = the reverse until the engine names the far side (set_upstream).
  Flow client_flow(const tcp::socket& s) const;

  // Serves until SIGINT/SIGTERM and the drain that follows. Returns the exit code.
  int run();

 private:
  Settings s_;
  Handler& h_;
  FlowTable flows_;
  std::atomic<unsigned> conns_{0};
  std::atomic<bool> draining_{false};
  // Declared before the io_contexts: coroutine frames destroyed with them unlink their streams.
  std::vector<std::unique_ptr<Deadlines>> deadlines_;
  std::vector<std::unique_ptr<boost::asio::io_context>> ctxs_;
  std::vector<tcp::acceptor> acceptors_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<ControlServer> control_;  // from the start line on, `edge conntrack --origin edge` sees the flows
};

// A connection between requests: its next bytes are read into `buf` as a waiter of the
// worker's idle set, which applies `limit`, the drain and parking without a timer each. A
// read, not a readiness wait: Asio skips the attempt when the last read drained the socket,
// so a keepalive request costs one recv and no FIONREAD.
struct Waited {
  enum class What { data, park, closed } what;
  Idle::Clock::time_point deadline;  // park: when the parked connection expires
};
boost::asio::awaitable<Waited> wait_for_bytes(Worker& w, Stream& s, boost::beast::flat_buffer& buf, Millis limit);

// The flow of an accepted TCP connection, conntrack-style: original = client -> our listener,
// reply = the reverse until the engine names the far side (set_upstream).
Flow accepted_flow(const tcp::socket& s, Millis timeout);

// The far side of a flow: `reply` is destination -> our address toward it (the translation a
// proxy does).
void set_upstream(FlowHandle& flow, const Tuple& reply);

}  // namespace edge::run
