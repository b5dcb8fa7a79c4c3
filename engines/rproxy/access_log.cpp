// Access-log formatting and the file it goes to.
#include "engines/rproxy/access_log.h"

#include "core/base/text.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "core/base/errors.h"
#include "core/out/json_text.h"

namespace edge::rproxy {

namespace {

// Combined logs use local time with its offset (nginx's $time_local); JSON uses UTC.
std::string time_text(std::time_t t, bool utc) {
  std::tm tm{};
  if (utc) gmtime_r(&t, &tm);
  else localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%d/%b/%Y:%H:%M:%S %z", &tm);
  return buf;
}

std::string_view or_dash(std::string_view s) { return s.empty() ? "-" : s; }

// Combined log fields are quoted: a quote or control byte in a target or User-Agent must not
// forge fields (nginx escapes them as \xHH the same way).
std::string escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) out += fmt::format("\\x{:02X}", c);
    else out += char(c);
  }
  return out;
}

// JSON strings must be UTF-8, and a target or User-Agent may be any bytes: invalid sequences
// become U+FFFD (core/base/text.h), so every line parses.
std::string utf8(std::string_view s) { return valid_utf8(s); }

boost::json::value text_or_null(std::string_view s) { return s.empty() ? boost::json::value(nullptr) : boost::json::value(utf8(s)); }

std::string request_line(const AccessRecord& r) {
  if (r.tcp) return "TCP";
  if (r.method.empty()) return "-";
  return fmt::format("{} {} HTTP/{}.{}", r.method, r.target, r.version / 10, r.version % 10);
}

}  // namespace

std::string format_access(const AccessRecord& r, LogFormat f) {
  if (f == LogFormat::json) {
    boost::json::object o;
    o["time"] = time_text(r.time, true);
    o["client"] = r.client.str();
    if (r.tcp) o["protocol"] = "tcp";
    o["method"] = text_or_null(r.method);
    o["target"] = r.method.empty() ? boost::json::value(nullptr) : boost::json::value(utf8(r.target));
    o["version"] = r.method.empty() ? boost::json::value(nullptr) : boost::json::value(fmt::format("{}.{}", r.version / 10, r.version % 10));
    o["status"] = r.status;
    o["bytes"] = r.bytes;
    o["user_agent"] = text_or_null(r.user_agent);
    o["backend"] = text_or_null(r.backend);
    for (auto [key, v] : {std::pair{"connect_ms", r.connect_ms}, std::pair{"first_byte_ms", r.first_byte_ms}, std::pair{"total_ms", r.total_ms}})
      o[key] = v ? boost::json::value(std::round(*v * 10) / 10) : boost::json::value(nullptr);
    o["cause"] = utf8(r.cause);
    return json_text(o) + "\n";
  }
  std::string line = fmt::format("{} - - [{}] \"{}\" {} {} \"-\" \"{}\" backend={}", r.client.str(), time_text(r.time, false), escaped(request_line(r)), r.status,
                                 r.bytes, escaped(or_dash(r.user_agent)), or_dash(r.backend));
  if (r.connect_ms) line += fmt::format(" connect_ms={:.1f}", *r.connect_ms);
  if (r.first_byte_ms) line += fmt::format(" first_byte_ms={:.1f}", *r.first_byte_ms);
  if (r.total_ms) line += fmt::format(" total_ms={:.1f}", *r.total_ms);
  line += fmt::format(" cause={}\n", r.cause);
  return line;
}

AccessLog::AccessLog(const std::string& where, LogFormat format) : file_(where, "--access-log"), format_(format) {}

void AccessLog::write(AccessRecord r) {
  if (!r.time) r.time = std::time(nullptr);
  file_.write(format_access(r, format_));
}

}  // namespace edge::rproxy
