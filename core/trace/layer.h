// One layer's result in `edge trace`: status, time, cause (from core/trace/causes.h), a short
// summary for the human line, and the evidence behind it for --json.
#pragma once
#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace edge::trace {

enum class Status { ok, fail, skipped, not_run };

struct LayerResult {
  std::string name;
  Status status = Status::not_run;
  double duration_ms = 0;
  std::string cause;    // empty unless status == fail
  std::string summary;  // a few words: what was found, or why it failed / was skipped
  boost::json::object evidence;
  std::vector<std::string> details;  // extra indented lines for the human output (e.g. hops)
  // Something wrong that did not fail the layer: (code, text), e.g. ("hosts_override", "...").
  std::vector<std::pair<std::string, std::string>> warnings;
};

// Measures a layer: construct at its start, call finish() when it is decided.
class LayerClock {
 public:
  LayerClock() : start_(std::chrono::steady_clock::now()) {}
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

inline LayerResult fail(LayerResult r, std::string cause, std::string summary) {
  r.status = Status::fail;
  r.cause = std::move(cause);
  r.summary = std::move(summary);
  return r;
}

// The classifier's word is final: no cause means the layer passed.
inline LayerResult decide(LayerResult r, std::string cause, std::string summary) {
  if (!cause.empty()) return fail(std::move(r), std::move(cause), std::move(summary));
  r.status = Status::ok;
  r.summary = std::move(summary);
  return r;
}

}  // namespace edge::trace
