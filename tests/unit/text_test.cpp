// Escaping user values and peers' bytes for terminals, and repairing UTF-8 for JSON.
#include <doctest/doctest.h>

#include "core/base/errors.h"
#include "core/base/text.h"

using namespace edge;

TEST_CASE("printable escapes what a terminal would act on") {
  CHECK(printable("plain 10.0.0.1") == "plain 10.0.0.1");
  CHECK(printable("\x1b]0;x\a") == "\\e]0;x\\x07");
  CHECK(printable("a\nb\tc\rd") == "a\\nb\\tc\\rd");
  CHECK(printable(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(printable("del\x7f") == "del\\x7f");
  CHECK(printable("b\xc3\xbc" "cher") == "b\xc3\xbc" "cher");  // UTF-8 text stays
  CHECK(printable("csi\xc2\x9b" "2J") == "csi\\xc2\\x9b2J");    // C1 CSI encoded as UTF-8
  CHECK(printable("bad\xff\xc3") == "bad\\xff\\xc3");          // not UTF-8
  CHECK(printable("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");      // overlong '/'
}

TEST_CASE("printable cuts a long value at a character boundary") {
  const std::string long_value(1000, 'a');
  const std::string shown = printable(long_value, 64);
  CHECK(shown.size() < 100);
  CHECK(shown.find("...(1000 bytes)") != std::string::npos);
  CHECK(printable(std::string(64, 'a'), 64) == std::string(64, 'a'));
  std::string umlauts;
  for (int i = 0; i < 40; ++i) umlauts += "\xc3\xbc";
  const std::string cut = printable(umlauts, 5);
  CHECK(cut.substr(0, 6) == "\xc3\xbc\xc3\xbc\xc3\xbc");
  CHECK(is_valid_utf8(cut));
}

TEST_CASE("usage errors and fatal messages never carry raw control bytes") {
  const Fatal e = usage_error("--src", "\x1b]0;pwned\a", "is not a CIDR");
  CHECK(std::string(e.what()) == "--src: '\\e]0;pwned\\x07' is not a CIDR");
  CHECK(e.code() == Exit::usage);
  const Fatal longer = usage_error("--src", std::string(5000, '1'), "is not a CIDR");
  CHECK(std::string(longer.what()).size() < 150);
  CHECK(std::string(longer.what()).find("(5000 bytes)' is not a CIDR") != std::string::npos);
  const Fatal direct(Exit::usage, "--proxy: 'http://\x1b[2J' is bad");
  CHECK(std::string(direct.what()).find('\x1b') == std::string::npos);
}

TEST_CASE("valid_utf8 replaces what is not UTF-8") {
  CHECK(valid_utf8("ok \xc3\xbc") == "ok \xc3\xbc");
  CHECK(valid_utf8("nginx\xff") == "nginx\xEF\xBF\xBD");
  CHECK(valid_utf8("\xed\xa0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  CHECK(valid_utf8("\xf4\x90\x80\x80").find("\xEF\xBF\xBD") == 0);             // above U+10FFFF
  CHECK(is_valid_utf8(valid_utf8("\xc3")));
}
