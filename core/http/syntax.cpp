// HTTP/1.1 syntax rules on raw text.
#include "core/http/syntax.h"

#include <boost/url/parse.hpp>

#include <cctype>

namespace edge::http {
namespace {

bool tchar(unsigned char c) { return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos; }

HeadProblem bad(std::string what) { return {400, std::move(what)}; }

}  // namespace

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!tchar(c)) return false;
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_field_value(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

std::string host_problem(std::string_view host) {
  if (host.empty()) return "";  // allowed: a target without an authority (RFC 9112 3.2)
  // A connection's requests (and a thread's clients) mostly name one host: the last one that
  // passed is not parsed again.
  thread_local std::string last_good;
  if (host == last_good) return "";
  auto a = boost::urls::parse_authority(host);
  if (!a) return "is not a host[:port]";
  if (a->has_userinfo()) return "carries userinfo ('@')";
  if (a->host().empty()) return "has no host";
  if (a->has_port()) {
    const auto p = a->port();
    if (p.empty() || p.size() > 5 || std::stoul(std::string(p)) > 65535) return "has an invalid port";
  }
  if (host.size() <= 255) last_good.assign(host);
  return "";
}

HeadProblem HeadScanner::scan(std::string_view have) {
  static constexpr std::string_view kVersion = "HTTP/1.";
  for (; pos_ < have.size() && state_ != State::done; ++pos_) {
    const unsigned char c = have[pos_];
    if (c == 0) return bad("a NUL byte in the request head");
    switch (state_) {
      case State::start:
        if (c == '\r') state_ = State::start_cr;
        else if (tchar(c)) state_ = State::method, method_len_ = 1;
        else if (c == 0x16) return bad("a TLS handshake on a plain HTTP port");
        else if (c == '\n') return bad("a bare LF in the request head");
        else return bad("not an HTTP request (it does not start with a method)");
        break;
      case State::start_cr:
        if (c != '\n') return bad("a bare CR in the request head");
        if ((leading_ += 2) > 16) return bad("too many empty lines before the request line");
        state_ = State::start;
        break;
      case State::method:
        if (c == ' ') state_ = State::target_start;
        else if (!tchar(c)) return bad("not an HTTP request (a method that is not a token)");
        else if (++method_len_ > 32) return bad("a method longer than 32 bytes");
        break;
      case State::target_start:
      case State::target:
        if (c == ' ' && state_ == State::target) state_ = State::version, version_at_ = pos_ + 1;
        else if (c == ' ') return bad("no request target");
        else if (c == '\r' || c == '\n') return bad(state_ == State::target ? "an HTTP/0.9 request (no HTTP version)" : "no request target");
        else if (c <= 0x20 || c == 0x7f) return bad("a space or control byte in the request target");
        else state_ = State::target;
        break;
      case State::version: {
        const size_t k = pos_ - version_at_;
        if (k < kVersion.size()) {
          if (c == uint8_t(kVersion[k])) break;
          if (k == 5 && std::isdigit(c)) return {505, "HTTP/" + std::string(1, char(c)) + " is not spoken here (HTTP/1.0 and 1.1 are)"};
          return bad("a malformed HTTP version in the request line");
        }
        if (k == kVersion.size() && std::isdigit(c)) break;
        if (k == kVersion.size() + 1 && c == '\r') {
          state_ = State::line_cr;
          break;
        }
        return bad(c == '\n' ? "a bare LF in the request head" : "a malformed HTTP version in the request line");
      }
      case State::line_cr:
      case State::field_cr:
        if (c != '\n') return bad("a bare CR in the request head");
        state_ = State::line_start;
        break;
      case State::line_start:
        // A line that starts with blank space continues the previous one (obs-fold, RFC 9112
        // 5.2), or hides a field behind the request line: proxies must not pass it on.
        if (c == ' ' || c == '\t') return bad("an obs-fold (folded header line)");
        if (c == '\r') state_ = State::final_cr;
        else if (c == '\n') return bad("a bare LF in the request head");
        else state_ = State::field;
        break;
      case State::field:
        if (c == '\r') state_ = State::field_cr;
        else if (c == '\n') return bad("a bare LF in the request head");
        break;
      case State::final_cr:
        if (c != '\n') return bad("a bare CR in the request head");
        state_ = State::done;
        break;
      case State::done: break;
    }
  }
  return {};
}

}  // namespace edge::http
