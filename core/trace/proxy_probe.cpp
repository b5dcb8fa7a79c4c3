// CONNECT exchange and proxy-answer attribution.
#include "core/trace/proxy_probe.h"

#include <openssl/evp.h>

#include "core/trace/classify.h"
#include "core/version/version.h"

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

std::string proxy_auth_header(const std::string& user, const std::string& password) {
  if (user.empty()) return "";
  const std::string plain = user + ":" + password;
  std::string b64(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), reinterpret_cast<const unsigned char*>(plain.data()), int(plain.size()));
  b64.resize(size_t(n));
  return "Proxy-Authorization: Basic " + b64 + "\r\n";
}

LayerResult probe_connect(LayerResult r, Stream& s, const std::string& authority, const std::string& auth_header, Millis timeout) {
  LayerClock clock;
  const std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority +
                              "\r\nUser-Agent: edge-trace/" + std::string(version()) + "\r\n" + auth_header + "\r\n";
  r.evidence["credentials_sent"] = !auth_header.empty();
  ResponseHead head;
  std::string error_text;
  const HeadError e = exchange_head(s, request, timeout, head, error_text);
  r.duration_ms += clock.elapsed_ms();
  r.evidence["request"] = "CONNECT " + authority;
  if (e != HeadError::none)
    return fail(std::move(r), "proxy_protocol_error", "the proxy's answer to CONNECT " + authority + " is unusable: " + error_text);
  r.evidence["response"] = head_evidence(head);
  std::string line = "CONNECT " + authority + ": " + std::to_string(head.status) + " " + head.reason;
  if (auto it = head.headers.find("server"); it != head.headers.end()) line += " from " + it->second;
  for (const char* h : {"proxy-status", "x-squid-error"})
    if (auto it = head.headers.find(h); it != head.headers.end()) line += " (" + std::string(h) + ": " + it->second + ")";
  return decide(std::move(r), std::string(classify_proxy_status(head.status)), line);
}

}  // namespace edge::trace
