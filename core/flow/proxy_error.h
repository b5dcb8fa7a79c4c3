// Why a proxied exchange failed, in one vocabulary for every proxy: RFC 9209's Proxy-Status
// error types ("connection_refused", "destination_not_found", ...) with the HTTP status they
// are answered with. The same word goes into the access log's cause, the Proxy-Status header
// and, for SOCKS, is mapped to a reply code.
#pragma once
#include <cctype>
#include <string>
#include <string_view>

namespace edge {

struct ProxyError {
  unsigned status = 0;     // 502, 503, 504, 4xx for the client's own faults
  std::string_view error;  // RFC 9209 error type (a literal)
  std::string detail;      // human words: "10.0.0.2:80 refused the connection"
};

// An access-log cause is one token ("relay_Connection_reset_by_peer@body"): anything else (a
// client's Upgrade value, an error message) becomes '_', so a cause cannot forge log fields.
inline std::string cause_token(std::string s) {
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("._:@/-").find(c) == std::string_view::npos) c = '_';
  return s;
}

}  // namespace edge
