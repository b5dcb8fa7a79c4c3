// Untrusted bytes made safe to show: on a terminal (control bytes escaped, long values cut) and
// in JSON (valid UTF-8 whatever came in). Every message echoing a user's value or a peer's
// bytes goes through one of these.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace edge {

// Escapes what a terminal would act on: C0 controls and DEL as \n, \t, \r, \e or \xNN, C1
// controls (U+0080-U+009F) and bytes that are not UTF-8 as \xNN; valid UTF-8 text stays as it
// is. With max_bytes, a longer result is cut at a character boundary and ends in
// "...(N bytes)", N being the input's length.
std::string printable(std::string_view s, size_t max_bytes = 0);

// Valid UTF-8: every byte sequence that is not (overlong forms and surrogates included)
// becomes U+FFFD. Returns the input unchanged when it already is.
std::string valid_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);

}  // namespace edge
