// Escaping for terminals and UTF-8 repair for JSON.
#include "core/base/text.h"

#include <fmt/format.h>

namespace edge {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there are not one.
size_t utf8_len(std::string_view s, size_t i) {
  const unsigned char c = s[i];
  if (c < 0x80) return 1;
  const size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
  const unsigned char d = s[i + 1];
  if (len == 2 && c < 0xC2) return 0;                                   // overlong
  if (len == 3 && ((c == 0xE0 && d < 0xA0) || (c == 0xED && d >= 0xA0))) return 0;  // overlong, surrogate
  if (len == 4 && (c > 0xF4 || (c == 0xF0 && d < 0x90) || (c == 0xF4 && d >= 0x90))) return 0;
  return len;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t len = utf8_len(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string valid_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_len(s, i);
    if (len) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string printable(std::string_view s, size_t max_bytes) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  for (; i < s.size();) {
    if (max_bytes && out.size() >= max_bytes) break;
    const unsigned char c = s[i];
    const size_t len = utf8_len(s, i);
    const bool c1 = len == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
    if (len == 1 && c >= 0x20 && c != 0x7f) {
      out += char(c);
    } else if (len > 1 && !c1) {
      out.append(s.substr(i, len));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == 0x1b) {
      out += "\\e";
    } else {
      // C1 controls escape as their code point's two UTF-8 bytes; anything else byte by byte.
      const size_t n = c1 ? 2 : 1;
      for (size_t k = 0; k < n; ++k) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i + k]));
      i += n;
      continue;
    }
    i += len ? len : 1;
  }
  if (i < s.size()) out += fmt::format("...({} bytes)", s.size());
  return out;
}

}  // namespace edge
