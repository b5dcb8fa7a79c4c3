// The SOCKS5 exchange of the proxy layer (core/trace/socks_probe.h), on core/socks's builders
// and parsers.
#include "core/trace/socks_probe.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/socks/socks5.h"

namespace edge::trace {
namespace {

// Reads until `parse` has a whole message; empty reason: done. Errors are the proxy's fault
// (closed, malformed) or the clock's (timeout).
template <class Parse>
auto read_step(Stream& s, std::vector<uint8_t>& buf, Clock::time_point deadline, Parse parse, std::string& problem) {
  while (true) {
    auto step = parse(std::span<const uint8_t>(buf.data(), buf.size()));
    if (step.status == socks::Status::done) {
      buf.erase(buf.begin(), buf.begin() + long(step.consumed));
      return step;
    }
    if (step.status == socks::Status::error) {
      problem = "the proxy's answer is not SOCKS5: " + step.reason;
      return step;
    }
    char tmp[512];
    int err = 0;
    const long n = s.read_some(tmp, sizeof tmp, deadline, err);
    if (n <= 0) {
      problem = n == 0 ? "the proxy closed the connection" : err == ETIMEDOUT ? "the proxy did not answer in time" : std::strerror(err);
      return step;
    }
    buf.insert(buf.end(), tmp, tmp + n);
  }
}

bool send(Stream& s, const std::vector<uint8_t>& bytes, Clock::time_point deadline, std::string& problem) {
  int err = 0;
  if (s.write_all(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), deadline, err)) return true;
  problem = err == ETIMEDOUT ? "the proxy did not take the request in time" : std::strerror(err);
  return false;
}

// The proxy layer's cause for a SOCKS5 reply code.
std::string cause_of(socks::Reply code) {
  switch (code) {
    case socks::Reply::succeeded: return "";
    case socks::Reply::not_allowed_by_ruleset: return "proxy_denied";
    case socks::Reply::general_failure:
    case socks::Reply::network_unreachable:
    case socks::Reply::host_unreachable:
    case socks::Reply::connection_refused:
    case socks::Reply::ttl_expired: return "proxy_upstream_error";
    default: return "proxy_protocol_error";
  }
}

}  // namespace

LayerResult probe_socks5(LayerResult r, Stream& s, const std::string& host, uint16_t port, const std::string& user, const std::string& password,
                         Millis timeout) {
  LayerClock clock;
  const auto deadline = Clock::now() + timeout;
  const std::string target = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  r.evidence["request"] = "SOCKS5 CONNECT " + target;
  r.evidence["credentials_sent"] = !user.empty();
  std::vector<uint8_t> buf;
  std::string problem;
  const auto done = [&](std::string cause, std::string summary) {
    r.duration_ms += clock.elapsed_ms();
    return decide(std::move(r), std::move(cause), std::move(summary));
  };
  if (!send(s, socks::client_greeting(!user.empty()), deadline, problem)) return done("proxy_protocol_error", "SOCKS5 greeting: " + problem);
  auto method = read_step(s, buf, deadline, [](auto b) { return socks::parse_method_reply(b); }, problem);
  if (!problem.empty()) return done("proxy_protocol_error", "SOCKS5 greeting: " + problem);
  r.evidence["method"] = method.value;
  if (method.value == socks::kNoAcceptable)
    return done("proxy_auth_required", user.empty() ? "the SOCKS5 proxy wants credentials (it accepts none of the methods offered: no authentication)"
                                                    : "the SOCKS5 proxy accepts none of the methods offered (no authentication, user/password)");
  if (method.value == socks::kUserPass) {
    if (user.empty()) return done("proxy_auth_required", "the SOCKS5 proxy asks for a user name and password, and the proxy URL has none");
    auto auth = socks::client_auth(user, password);
    if (!auth) return done("proxy_protocol_error", "SOCKS5 credentials: " + auth.error());
    if (!send(s, *auth, deadline, problem)) return done("proxy_protocol_error", "SOCKS5 authentication: " + problem);
    auto answer = read_step(s, buf, deadline, [](auto b) { return socks::parse_auth_reply(b); }, problem);
    if (!problem.empty()) return done("proxy_protocol_error", "SOCKS5 authentication: " + problem);
    if (!answer.value) return done("proxy_auth_required", "the SOCKS5 proxy refused the user name or password (user " + user + ")");
  } else if (method.value != socks::kNoAuth) {
    return done("proxy_protocol_error", "the SOCKS5 proxy chose method " + std::to_string(method.value) + ", which was not offered");
  }
  auto request = socks::client_connect(host, port);
  if (!request) return done("proxy_protocol_error", "SOCKS5 CONNECT " + target + ": " + request.error());
  if (!send(s, *request, deadline, problem)) return done("proxy_protocol_error", "SOCKS5 CONNECT: " + problem);
  auto reply = read_step(s, buf, deadline, [](auto b) { return socks::parse_reply(b); }, problem);
  if (!problem.empty()) return done("proxy_protocol_error", "SOCKS5 CONNECT " + target + ": " + problem);
  const auto code = reply.value.code;
  r.evidence["reply"] = int(code);
  r.evidence["reply_text"] = std::string(socks::reply_name(code));
  const std::string line = "SOCKS5 CONNECT " + target + ": " + std::string(socks::reply_name(code)) + " (reply " + std::to_string(int(code)) + ")";
  return done(cause_of(code), line);
}

}  // namespace edge::trace
