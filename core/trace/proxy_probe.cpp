// CONNECT exchange and proxy-answer attribution.
#include "core/trace/proxy_probe.h"

#include "core/trace/classify.h"

namespace edge::trace {

bool answered_by_proxy(const ResponseHead& head) {
  if (head.status == 407) return true;
  if (head.headers.count("x-squid-error")) return true;
  auto ps = head.headers.find("proxy-status");
  if (ps != head.headers.end() && ps->second.find("error=") != std::string::npos) return true;
  // tinyproxy and Squid name themselves on the error pages they generate.
  auto server = head.headers.find("server");
  return head.status >= 500 && server != head.headers.end() &&
         (server->second.rfind("tinyproxy", 0) == 0 || server->second.rfind("squid", 0) == 0);
}

LayerResult probe_connect(LayerResult r, Stream& s, const std::string& authority, Millis timeout) {
  LayerClock clock;
  const std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority +
                              "\r\nUser-Agent: edge-trace/" EDGE_VERSION "\r\n\r\n";
  ResponseHead head;
  std::string error_text;
  const HeadError e = exchange_head(s, request, timeout, head, error_text);
  r.duration_ms += clock.elapsed_ms();
  r.evidence["request"] = "CONNECT " + authority;
  if (e != HeadError::none)
    return fail(std::move(r), "proxy_protocol_error", "the proxy's answer to CONNECT " + authority + " is unusable: " + error_text);
  r.evidence["response"] = head_evidence(head);
  const std::string cause(classify_proxy_status(head.status));
  std::string line = "CONNECT " + authority + ": " + std::to_string(head.status) + " " + head.reason;
  if (auto it = head.headers.find("server"); it != head.headers.end()) line += " from " + it->second;
  for (const char* h : {"proxy-status", "x-squid-error"})
    if (auto it = head.headers.find(h); it != head.headers.end()) line += " (" + std::string(h) + ": " + it->second + ")";
  if (cause.empty()) {
    r.status = Status::ok;
    r.summary = line;
    return r;
  }
  return fail(std::move(r), cause, line);
}

}  // namespace edge::trace
