// Fuzz target: the SOCKS5 parsers (core/socks/socks5.h). Each must give, for every prefix of
// the input, either need_more asking for more than the prefix holds or the verdict on the
// whole input; a message that parses must read back from its own bytes alone; and nothing may
// crash on any bytes. The first byte picks the parser, so one corpus reaches all five.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/socks/socks5.h"

namespace {

using edge::socks::Status;

template <class Parse>
void check(std::span<const uint8_t> in, Parse parse) {
  const auto whole = parse(in);
  if (whole.status == Status::need_more && whole.at_least <= in.size()) std::abort();
  if (whole.status == Status::done && (whole.consumed == 0 || whole.consumed > in.size())) std::abort();
  if (whole.status == Status::error && whole.reason.empty()) std::abort();
  // Prefixes: every cut would be slow on long inputs; a spread of cuts and the last bytes do.
  for (size_t cut = 0; cut < in.size(); cut = cut < 16 ? cut + 1 : cut * 2) {
    const auto p = parse(in.first(cut));
    if (p.status == Status::need_more) {
      if (p.at_least <= cut) std::abort();
      if (whole.status == Status::done && (cut >= whole.consumed || p.at_least > whole.consumed)) std::abort();
    } else if (p.status != whole.status || p.consumed != whole.consumed || p.reason != whole.reason) {
      std::abort();
    }
  }
  if (whole.status == Status::done) {
    const auto again = parse(in.first(whole.consumed));
    if (again.status != Status::done || again.consumed != whole.consumed) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace s = edge::socks;
  const auto in = std::span(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      const s::MethodConfig cfg{.require_auth = bool(data[0] & 0x10), .allow_no_auth = bool(data[0] & 0x20)};
      check(in, [&](std::span<const uint8_t> b) { return s::parse_greeting(b, cfg); });
      break;
    }
    case 1: check(in, [](std::span<const uint8_t> b) { return s::parse_auth(b); }); break;
    case 2: {
      const s::RequestConfig cfg{.bind = bool(data[0] & 0x10), .udp_associate = bool(data[0] & 0x20)};
      check(in, [&](std::span<const uint8_t> b) { return s::parse_request(b, cfg); });
      // A parsed CONNECT, rebuilt by the client builder, reads back the same.
      const auto r = s::parse_request(in, cfg);
      if (r.status == Status::done && r.value.cmd == s::Cmd::connect) {
        const auto rebuilt = s::client_connect(r.value.addr ? r.value.addr->str() : r.value.host, r.value.port);
        if (!rebuilt) std::abort();
        const auto back = s::parse_request(*rebuilt, cfg);
        if (back.status != Status::done || back.value.host != r.value.host || back.value.addr != r.value.addr ||
            back.value.port != r.value.port)
          std::abort();
      }
      break;
    }
    case 3: check(in, [](std::span<const uint8_t> b) { return s::parse_reply(b); }); break;
    case 4:
      check(in, [](std::span<const uint8_t> b) { return s::parse_method_reply(b); });
      check(in, [](std::span<const uint8_t> b) { return s::parse_auth_reply(b); });
      break;
  }
  return 0;
}
