// HTTP/1.1 syntax rules on raw text (RFC 9110/9112), for every proxy and every flag that
// carries HTTP: tokens, field values, Host, and the check of a request head as it arrives.
// No Beast here: these run on bytes before any parser sees them (and under the fuzzer).
#pragma once
#include <string>
#include <string_view>

namespace edge::http {

// tchar+ (RFC 9110 5.6.2): a method or a field name.
bool is_token(std::string_view s);

// `s` without the blank space (SP, HTAB) around it: optional whitespace in field values and lists.
std::string_view trim_ows(std::string_view s);

// A field value as a client may send it: visible ASCII, obs-text, SP and HTAB; no other
// control byte (so no CR, LF or NUL).
bool is_field_value(std::string_view s);

// Host (RFC 9110 7.2): uri-host [":" port], no userinfo, port 0-65535. Empty when fine, else
// what is wrong with it.
std::string host_problem(std::string_view host);

struct HeadProblem {
  unsigned status = 0;  // 0: nothing wrong so far; 400, or 505 for an HTTP version edge cannot speak
  std::string what;     // for the Proxy-Status details and the log
  explicit operator bool() const { return status != 0; }
};

// Reads a request head byte by byte as it arrives and stops at the first byte that can no
// longer begin a valid HTTP/1.x head, so a client speaking something else (TLS, HTTP/0.9,
// binary, bare LF line ends) is answered at once instead of waiting out the header timeout.
// It also refuses what parsers quietly repair: obs-fold, a bare CR or LF, NUL. Resumable: each
// call scans only the bytes added since the last one (a byte-a-second client costs O(n)).
class HeadScanner {
 public:
  // `have` is everything buffered so far (it only grows). Returns a problem, or none yet.
  HeadProblem scan(std::string_view have);
  // The head's length (request line to the empty line, inclusive) once it is whole, else 0.
  size_t length() const { return state_ == State::done ? pos_ : 0; }
  // Bytes of empty lines before the request line (RFC 9112 2.2: ignored); the head starts after them.
  size_t leading() const { return leading_; }

 private:
  enum class State { start, start_cr, method, target_start, target, version, line_cr, line_start, field, field_cr, final_cr, done };
  State state_ = State::start;
  size_t pos_ = 0, leading_ = 0, method_len_ = 0, version_at_ = 0;
};

}  // namespace edge::http
