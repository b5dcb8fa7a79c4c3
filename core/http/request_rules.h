// The rules a request head must meet before a proxy passes it on (RFC 9110/9112; the ones
// that stop request smuggling and host confusion), and the one unambiguous form the next hop
// gets: origin-form target, exactly one valid Host, at most one Content-Length value.
#pragma once
#include "core/http/fields.h"
#include <optional>
#include <string>

namespace edge::http {

// Why a request is answered by the proxy instead of passed on.
struct Refusal {
  unsigned status = 400;
  std::string details;  // for Proxy-Status: error=http_request_error; details="..."
  std::string cause;    // the access log's single token, before "@header"
};

// Checks a parsed request head and rewrites it in place: an absolute-form target
// ("GET http://h/x") becomes origin-form ("/x") with Host set from its authority (the target
// wins, RFC 9112 3.2.2); a list-valued or repeated Content-Length of one value becomes one
// line. Refused: CONNECT (405, a reverse proxy is no tunnel), a target that is neither
// origin- nor absolute-form, no Host in HTTP/1.1, several Host lines, an invalid Host,
// Transfer-Encoding on HTTP/1.0, and every ambiguous framing (framing_problem).
std::optional<Refusal> normalize_request(RequestHead& req);

// The framing checks alone: empty when the head frames its body one way only, else why not.
std::string framing_problem(const Fields& h);

}  // namespace edge::http
