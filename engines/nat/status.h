// What a running `edge nat` shows about itself, for both engines: the live status line (or JSON
// lines with --json) on stdout, the one-line description of each rule, and the status a
// control socket answers to `edge nat status`.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/conntrack/kernel_table.h"
#include "engines/nat/options.h"

namespace edge::nat {

// One rule as a line a person reads: "dnat tcp *:8080 -> 10.0.2.2:80 (in eth0)".
std::string describe(const SnatRule& r);
std::string describe(const DnatRule& r);
std::vector<std::string> describe_rules(const Options& o);

// One refresh of the status line. Totals are since start; the printer derives rates.
struct Sample {
  uint64_t flows_now = 0;      // flows through this instance's rules now
  uint64_t flows_total = 0;    // flows seen since start (new flows per second come from this)
  uint64_t bytes_total = 0;    // both directions
  uint64_t refused_total = 0;  // user engine: flows refused at --max-flows
  std::optional<TableCount> conntrack;  // kernel engine: the conntrack table's fill
};

class StatusPrinter {
 public:
  // engine: "kernel" or "user". On a terminal the line is rewritten in place; otherwise (or
  // with json) one line per refresh.
  StatusPrinter(bool json, std::string engine);
  void print(const Sample& s);
  // Ends a line left open on a terminal.
  void finish();

 private:
  bool json_, tty_;
  std::string engine_;
  std::chrono::steady_clock::time_point start_, last_;
  uint64_t last_flows_ = 0;
  bool open_line_ = false, warned_full_ = false, first_ = true;
};

// The JSON object `edge nat status` reads from an instance's control socket.
std::string status_json(const Options& o, const char* engine, std::chrono::system_clock::time_point since,
                        const Sample& now, const std::string& table);

}  // namespace edge::nat
