// The status line, rule descriptions and the control socket's status object; see status.h.
#include "engines/nat/status.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fmt/format.h>

#include "core/out/json_text.h"

namespace edge::nat {
namespace json = boost::json;
namespace {

const char* families_text(Families f) { return f == Families::v4 ? " ipv4" : f == Families::v6 ? " ipv6" : ""; }

std::string ports_text(const PortRange& p) { return p.lo() == p.hi() ? std::to_string(p.lo()) : fmt::format("{}-{}", p.lo(), p.hi()); }

std::string host_text(const std::string& h) { return h.find(':') != std::string::npos ? "[" + h + "]" : h; }

std::string bytes_text(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace

std::string describe(const SnatRule& r) {
  std::string s = "snat" + std::string(families_text(r.families)) + " out " + r.out_iface;
  if (r.src) s += " from " + r.src->str();
  if (!r.to_lo) return s + " -> masquerade";
  s += " -> " + r.to_lo->str();
  if (r.to_hi && *r.to_hi != *r.to_lo) s += "-" + r.to_hi->str();
  if (r.to_ports) s += " ports " + ports_text(*r.to_ports);
  return s;
}

std::string describe(const DnatRule& r) {
  std::string s = fmt::format("dnat {}{} ", proto_name(r.proto), families_text(r.families));
  const auto& at = r.listen_addr ? r.listen_addr : r.dst;
  s += (at ? host_text(at->str()) : std::string("*")) + ":" + ports_text(r.port) + " -> " + host_text(r.to_host);
  if (r.to_ports) s += ":" + ports_text(*r.to_ports);
  if (!r.in_iface.empty()) s += " (in " + r.in_iface + ")";
  if (r.hairpin) s += " +hairpin";
  if (r.to_source) s += " from " + r.to_source->str();
  return s;
}

std::vector<std::string> describe_rules(const Options& o) {
  std::vector<std::string> out;
  for (const auto& r : o.dnat) out.push_back(describe(r));
  for (const auto& r : o.snat) out.push_back(describe(r));
  return out;
}

StatusPrinter::StatusPrinter(bool json, std::string engine)
    : json_(json), tty_(isatty(STDOUT_FILENO) == 1), engine_(std::move(engine)), start_(std::chrono::steady_clock::now()), last_(start_) {}

void StatusPrinter::print(const Sample& s) {
  const auto now = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(now - last_).count();
  const double rate = secs > 0 ? double(s.flows_total - std::min(s.flows_total, last_flows_)) / secs : 0;
  last_ = now, last_flows_ = s.flows_total;
  const double fill = s.conntrack && s.conntrack->max ? 100.0 * double(s.conntrack->entries) / double(s.conntrack->max) : -1;
  if (json_) {
    json::object o;
    o["engine"] = engine_;
    o["uptime_s"] = std::chrono::duration<double>(now - start_).count();
    o["flows_now"] = s.flows_now;
    o["flows_total"] = s.flows_total;
    o["new_per_s"] = rate;
    o["bytes"] = s.bytes_total;
    if (engine_ == "user") o["refused"] = s.refused_total;
    if (s.conntrack) {
      o["conntrack_entries"] = s.conntrack->entries;
      o["conntrack_max"] = s.conntrack->max;
      o["conntrack_full"] = fill >= 80;
    }
    std::fputs((json_text(o) + "\n").c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  std::string line = fmt::format("flows {}  new {:.1f}/s  total {}  bytes {}", s.flows_now, rate, s.flows_total, bytes_text(s.bytes_total));
  if (engine_ == "user") line += fmt::format("  refused {}", s.refused_total);
  if (s.conntrack) line += fmt::format("  conntrack {}/{} ({:.1f}%)", s.conntrack->entries, s.conntrack->max, fill);
  if (fill >= 80) line += "  WARNING: conntrack table over 80% full";
  if (tty_) {
    std::fputs(("\r\033[K" + line).c_str(), stdout);
    open_line_ = true;
  } else {
    std::fputs((line + "\n").c_str(), stdout);
  }
  std::fflush(stdout);
  if (fill >= 80 && !warned_full_) {
    std::fprintf(stderr, "%sedge nat: conntrack table %.0f%% full: new flows will be dropped when it fills (edge conntrack stats says by whom)\n",
                 open_line_ ? "\n" : "", fill);
    open_line_ = false;
    warned_full_ = true;
  }
}

void StatusPrinter::finish() {
  if (open_line_) std::fputs("\n", stdout), std::fflush(stdout);
  open_line_ = false;
}

std::string status_json(const Options& o, const char* engine, std::chrono::system_clock::time_point since, const Sample& now,
                        const std::string& table) {
  json::object j;
  j["pid"] = getpid();
  j["engine"] = engine;
  json::array rules;
  for (auto& r : describe_rules(o)) rules.push_back(json::string(r));
  j["rules"] = std::move(rules);
  j["flows_now"] = now.flows_now;
  j["flows_total"] = now.flows_total;
  j["bytes"] = now.bytes_total;
  if (std::string(engine) == "user") j["refused"] = now.refused_total;
  j["since"] = std::chrono::duration_cast<std::chrono::seconds>(since.time_since_epoch()).count();
  if (!table.empty()) j["table"] = table;
  if (!o.netns.empty()) j["netns"] = o.netns;
  return json_text(j);
}

}  // namespace edge::nat
