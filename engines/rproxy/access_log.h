// The access log of the proxies: one record per request (or per refused head, failed TLS
// handshake, TCP connection), written as an nginx-style combined line with edge's fields
// appended, or as one JSON object per line (--log-format json) for scripts.
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "core/net/addr.h"
#include "core/out/log_file.h"

namespace edge::rproxy {

enum class LogFormat { combined, json };

struct AccessRecord {
  std::time_t time = 0;       // 0: now, when written
  IpAddr client;
  std::string_view method;   // empty: no request line was read ("-"), or a TCP connection
  std::string_view target;
  unsigned version = 11;     // HTTP/1.1 = 11
  bool tcp = false;          // --mode tcp: a connection, not a request
  unsigned status = 0;       // 0: no response was sent
  uint64_t bytes = 0;        // to the client
  std::string_view user_agent;
  std::string_view backend;  // empty: none was chosen
  std::optional<double> connect_ms, first_byte_ms, total_ms;
  std::string_view cause;    // a single token: "keepalive", "connection_refused@connect", ...
};

std::string format_access(const AccessRecord& r, LogFormat f);

class AccessLog {
 public:
  // where: "" (off), "-" (stdout) or a file opened for appending, a usage error when it cannot be.
  AccessLog(const std::string& where, LogFormat format);
  // SIGHUP: after log rotation moved the file away, write to a fresh one at the same path.
  void reopen() { file_.reopen(); }
  bool on() const { return file_.on(); }
  void write(AccessRecord r);

 private:
  LogFile file_;
  LogFormat format_;
};

}  // namespace edge::rproxy
