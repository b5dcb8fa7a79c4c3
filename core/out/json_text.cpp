// Rewriting exponent-form numbers outside strings; everything else is copied byte for byte.
#include "core/out/json_text.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "core/base/text.h"

namespace edge {

std::string plain_json_numbers(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {  // copy a string literal whole, escapes included
      size_t j = i + 1;
      while (j < s.size() && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, s.size());
      out.append(s.substr(i, j - i));
      i = j;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      bool exponent = false;
      while (j < s.size() && (std::isdigit((unsigned char)s[j]) || s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' || s[j] == 'E')) {
        exponent = exponent || s[j] == 'e' || s[j] == 'E';
        ++j;
      }
      std::string_view num = s.substr(i, j - i);
      double d = 0;
      auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), d);
      if (exponent && ec == std::errc() && end == num.data() + num.size() && std::abs(d) < 1e15 && (d == 0 || std::abs(d) >= 1e-6))
        out += fmt::format("{}", d);  // shortest round-trip form, fixed notation in this range
      else
        out.append(num);
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

// Boost.JSON copies string bytes as they are; a peer's header may be any bytes, and JSON is
// UTF-8: invalid sequences become U+FFFD (they can only be inside strings).
std::string json_text(const boost::json::value& v) { return valid_utf8(plain_json_numbers(boost::json::serialize(v))); }

}  // namespace edge
