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

namespace {

// RFC 9209 section 2.3's error types, the ones a proxy answers with when the next hop fails.
std::string proxy_status_words(std::string_view type, const std::string& target) {
  if (type == "dns_error" || type == "destination_not_found") return "the proxy could not resolve the name of " + target;
  if (type == "dns_timeout") return "the proxy's DNS lookup for " + target + " timed out";
  if (type == "connection_refused") return target + " refused the proxy's connection";
  if (type == "connection_timeout") return "the proxy's connection to " + target + " timed out";
  if (type == "connection_terminated") return target + " closed the proxy's connection";
  if (type == "connection_read_timeout") return target + " did not answer the proxy in time";
  if (type == "destination_unavailable") return target + " is unavailable to the proxy";
  if (type == "destination_ip_prohibited" || type == "http_request_denied") return "the proxy's rules deny the request for " + target;
  if (type == "destination_ip_unroutable") return "the proxy has no route to " + target;
  if (type == "connection_limit_reached") return "the proxy has reached its connection limit";
  if (type.rfind("tls_", 0) == 0) return "TLS between the proxy and " + target + " failed";
  if (type.rfind("http_response", 0) == 0) return target + " sent the proxy a bad response";
  if (type == "proxy_loop_detected") return "the proxy detected a forwarding loop";
  if (type == "proxy_internal_error" || type == "proxy_configuration_error") return "the proxy itself failed";
  return "";
}

// Squid's error templates (errorpage.cc), the ones that say where the failure is.
std::string squid_words(std::string_view err, const std::string& target) {
  if (err == "ERR_DNS_FAIL") return "the proxy could not resolve the name of " + target;
  if (err == "ERR_CONNECT_FAIL") return "the proxy could not connect to " + target;
  if (err == "ERR_READ_TIMEOUT" || err == "ERR_LIFETIME_EXP") return target + " did not answer the proxy in time";
  if (err == "ERR_ZERO_SIZE_OBJECT" || err == "ERR_READ_ERROR") return target + " closed the proxy's connection without an answer";
  if (err == "ERR_ACCESS_DENIED") return "the proxy's rules deny the request for " + target;
  if (err == "ERR_CANNOT_FORWARD") return "the proxy cannot forward the request for " + target + " (no route or parent)";
  if (err == "ERR_SECURE_CONNECT_FAIL") return "TLS between the proxy and " + target + " failed";
  if (err == "ERR_INVALID_URL" || err == "ERR_INVALID_REQ") return "the proxy refused the request as invalid";
  return "";
}

// The token of `key=` in a Proxy-Status or X-Squid-Error value (up to ';', ',' or a blank).
std::string_view first_token(std::string_view v, std::string_view key) {
  size_t at = 0;
  if (!key.empty()) {
    at = v.find(key);
    if (at == std::string_view::npos) return {};
    at += key.size();
  }
  while (at < v.size() && v[at] == ' ') ++at;
  const size_t end = v.find_first_of(";, \t", at);
  return v.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
}

}  // namespace

std::string proxy_failure_words(const ResponseHead& head, const std::string& target) {
  if (auto ps = head.headers.find("proxy-status"); ps != head.headers.end()) {
    const std::string_view type = first_token(ps->second, "error=");
    if (std::string w = proxy_status_words(type, target); !w.empty()) return w + " (Proxy-Status " + std::string(type) + ")";
  }
  if (auto sq = head.headers.find("x-squid-error"); sq != head.headers.end()) {
    const std::string_view err = first_token(sq->second, "");
    if (std::string w = squid_words(err, target); !w.empty()) return w + " (Squid " + std::string(err) + ")";
  }
  // tinyproxy puts its verdict in the reason phrase (reqs.c: "Unable to connect", ...).
  auto server = head.headers.find("server");
  if (server != head.headers.end() && server->second.rfind("tinyproxy", 0) == 0) {
    if (head.reason == "Unable to connect") return "the proxy could not connect to " + target + " (tinyproxy: Unable to connect)";
    if (head.reason == "Access violation" || head.reason == "Filtered") return "the proxy's rules deny the request for " + target + " (tinyproxy: " + head.reason + ")";
  }
  return "";
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
  const std::string cause(classify_proxy_status(head.status));
  if (!cause.empty())
    if (std::string words = proxy_failure_words(head, authority); !words.empty()) {
      r.evidence["reason"] = words;
      line = words + ": " + line;
    }
  return decide(std::move(r), cause, line);
}

}  // namespace edge::trace
