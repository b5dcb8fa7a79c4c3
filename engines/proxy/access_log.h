// The access log of `edge proxy`: one record per request, tunnel or refused connection,
// written when it is answered (a denial is in the log at once). Squid's native format, so the
// tools that read Squid logs read edge's, with the decision's rule and the close cause
// appended; or one JSON object per line (--log-format json).
#pragma once
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "core/net/addr.h"
#include "core/out/log_file.h"
#include "engines/proxy/metrics.h"
#include "engines/proxy/options.h"

namespace edge::proxy {

struct Record {
  double time = 0;               // seconds since the epoch; 0: now
  IpAddr client;
  std::string_view protocol;     // "http", "connect", "socks5", "socks4"
  std::string_view method;       // "GET", "CONNECT"; empty when no request was read
  std::string_view target;       // the absolute URL or host:port
  std::string_view user;         // the authenticated user, if any
  bool denied = false;           // refused by a rule (source, destination, port, auth)
  std::string_view rule;         // the rule that decided a denial ("private", "connect-port", ...)
  unsigned status = 0;           // HTTP status sent (SOCKS: 200 granted, 403 denied, 502/504 failed)
  uint64_t bytes_up = 0;         // client -> destination (body or tunnel bytes)
  uint64_t bytes_down = 0;       // destination -> client
  double ms = 0;                 // from the request to the end of its answer
  std::string_view upstream;     // "93.184.216.34:443": where it went
  std::string_view cause;        // one token: "keepalive", "closed", "connection_refused@connect", ...
};

std::string format_record(const Record& r, LogFormat f);

// Every record is counted in the metrics; logged when there is a log.
class AccessLog {
 public:
  AccessLog(const std::string& where, LogFormat f, Metrics& m) : file_(where, "--access-log"), format_(f), metrics_(m) {}
  bool on() const { return file_.on(); }
  void reopen() { file_.reopen(); }
  void write(const Record& r) {
    metrics_.record(r);
    if (file_.on()) file_.write(format_record(r, format_));
  }

 private:
  LogFile file_;
  LogFormat format_;
  Metrics& metrics_;
};

}  // namespace edge::proxy
