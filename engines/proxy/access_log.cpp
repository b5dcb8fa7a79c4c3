// Access-log lines of `edge proxy` (engines/proxy/access_log.h).
#include "engines/proxy/access_log.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <cmath>

#include "core/base/text.h"
#include "core/out/json_text.h"

namespace edge::proxy {
namespace {

// Squid's result codes: what happened to the request, in the words Squid log tools know.
std::string_view squid_code(const Record& r) {
  if (r.denied) return "TCP_DENIED";
  if (r.method.empty()) return "NONE_NONE";
  if (r.protocol == "connect" || r.protocol == "socks5") return r.status == 200 ? "TCP_TUNNEL" : "TCP_MISS";
  return "TCP_MISS";
}

// A field of a space-separated line: no spaces or control bytes, "-" when empty.
std::string field(std::string_view s) {
  if (s.empty()) return "-";
  std::string out;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '%') out += fmt::format("%{:02X}", c);
    else out += char(c);
  }
  return out;
}

}  // namespace

std::string format_record(const Record& r, LogFormat f) {
  const double now = r.time ? r.time : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (f == LogFormat::json) {
    boost::json::object o;
    o["time"] = std::round(now * 1000) / 1000;
    o["client"] = r.client.str();
    o["protocol"] = r.protocol;
    o["method"] = r.method.empty() ? boost::json::value(nullptr) : boost::json::value(valid_utf8(r.method));
    o["target"] = r.target.empty() ? boost::json::value(nullptr) : boost::json::value(valid_utf8(r.target));
    o["user"] = r.user.empty() ? boost::json::value(nullptr) : boost::json::value(valid_utf8(r.user));
    o["decision"] = r.denied ? "deny" : "allow";
    o["rule"] = r.rule.empty() ? boost::json::value(nullptr) : boost::json::value(r.rule);
    o["status"] = r.status;
    o["bytes_up"] = r.bytes_up;
    o["bytes_down"] = r.bytes_down;
    o["duration_ms"] = std::round(r.ms * 10) / 10;
    o["upstream"] = r.upstream.empty() ? boost::json::value(nullptr) : boost::json::value(r.upstream);
    o["cause"] = valid_utf8(r.cause);
    return json_text(o) + "\n";
  }
  // time.ms elapsed client code/status bytes method URL user hierarchy/peer type, as Squid's
  // "squid" logformat, then edge's own fields.
  return fmt::format("{:.3f} {:6} {} {}/{:03} {} {} {} {} {}/{} - rule={} up={} cause={}\n", now, std::llround(r.ms), r.client.str(), squid_code(r),
                     r.status, r.bytes_down, field(r.method), field(r.target), field(r.user), r.upstream.empty() ? "HIER_NONE" : "HIER_DIRECT",
                     field(r.upstream), field(r.rule), r.bytes_up, field(r.cause));
}

}  // namespace edge::proxy
