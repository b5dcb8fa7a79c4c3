// The SOCKS5 wire protocol (RFC 1928, with RFC 1929 username/password) as pure byte work: the
// server's parsers and replies for `edge proxy`, the client's builders and parsers for
// `edge trace --proxy socks5://`. No sockets here, so every byte path is unit-tested and fuzzed.
#pragma once
#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/parsed.h"
#include "core/net/addr.h"

namespace edge::socks {

// A port shared with HTTP tells the protocols apart by the first byte: no HTTP method starts
// with 0x04 or 0x05.
enum class FirstByte : uint8_t { socks5, socks4, http_or_other };
FirstByte classify(uint8_t first);

// SOCKS4/4a is refused, not spoken: its reply (CD 91, "request rejected") is sent at once and the
// connection closed, so a socks4:// client fails with a clear answer instead of a timeout.
std::array<uint8_t, 8> socks4_reject();

// Bytes for the server to send, at most 22 (a reply with an IPv6 BND.ADDR): no allocation on
// the per-connection path.
class ReplyBytes {
 public:
  ReplyBytes() = default;
  ReplyBytes(std::initializer_list<uint8_t> b);
  void push_back(uint8_t b);
  std::span<const uint8_t> bytes() const { return {buf_.data(), len_}; }
  size_t size() const { return len_; }
  bool empty() const { return len_ == 0; }

 private:
  std::array<uint8_t, 22> buf_{};
  uint8_t len_ = 0;
};

// Every parser reads a buffer that may hold only the start of a message (call again with the
// buffer grown) or a message and the bytes after it (they are left for the next step).
// A parser is a function of the bytes alone, checking them in order: a prefix that already
// shows an error gives the same error however many bytes follow it.
enum class Status : uint8_t { need_more, done, error };

template <class T>
struct Step {
  Status status = Status::need_more;
  size_t at_least = 0;  // need_more: the message is at least this long (> the buffer given)
  size_t consumed = 0;  // done: the message's length; bytes past it are not this message's
  T value{};            // done
  std::string reason;   // error: what was wrong, for the log
  // error: what to send before closing; empty when the protocol has no answer. Closing with
  // the client's bytes unread makes the kernel send RST, which can destroy this reply in
  // flight: shut down writing and drain briefly before closing.
  ReplyBytes reply;
};

// ---- Server side ----

constexpr uint8_t kNoAuth = 0x00, kUserPass = 0x02, kNoAcceptable = 0xFF;

// require_auth: edge holds users and passwords and asks for them (method 0x02). Method 0x00 is
// acceptable when auth is not required, or, with allow_no_auth, alongside it. When a client
// offers both acceptable methods, 0x02 wins, so the log can name the user.
struct MethodConfig {
  bool require_auth = false;
  bool allow_no_auth = false;
};

struct Greeting {
  uint8_t method = kNoAcceptable;  // the one chosen: kNoAuth or kUserPass
  std::bitset<256> offered;        // every method the client listed, for the log
};

// VER NMETHODS METHODS. On done, send method_reply(value.method). Errors: a version other than 5
// (first byte 4: the SOCKS4 rejection as the reply), no methods, no acceptable method (05 FF).
Step<Greeting> parse_greeting(std::span<const uint8_t> in, MethodConfig cfg);
ReplyBytes method_reply(uint8_t method);

// RFC 1929: VER(1) ULEN UNAME PLEN PASSWD. Names and passwords are bytes, not text. On done,
// check them and send auth_reply(ok); on failure close after it (RFC 1929 section 2).
struct Credentials {
  std::string user, password;
};
Step<Credentials> parse_auth(std::span<const uint8_t> in);
ReplyBytes auth_reply(bool ok);

enum class Cmd : uint8_t { connect = 1, bind = 2, udp_associate = 3 };

// CONNECT is always accepted; the others are until edge serves them refused with 0x07.
struct RequestConfig {
  bool bind = false;
  bool udp_associate = false;
};

struct Request {
  Cmd cmd = Cmd::connect;
  std::string host;             // the domain (socks5h); empty when the client sent an address
  std::optional<IpAddr> addr;   // the address; IPv4-mapped IPv6 is kept as sent
  uint16_t port = 0;
};

// VER CMD RSV ATYP DST.ADDR DST.PORT. Refused with a reply: an unknown or unsupported command
// (0x07), an unknown address type (0x08), a non-zero RSV, an empty domain or one with a
// control byte, space or DEL, CONNECT to port 0 (0x01). A domain that is an address literal
// becomes the address form, so egress rules see one form for one destination.
Step<Request> parse_request(std::span<const uint8_t> in, RequestConfig cfg = {});

enum class Reply : uint8_t {
  succeeded = 0,
  general_failure = 1,
  not_allowed_by_ruleset = 2,
  network_unreachable = 3,
  host_unreachable = 4,
  connection_refused = 5,
  ttl_expired = 6,
  command_not_supported = 7,
  address_type_not_supported = 8,
};
// RFC 1928's words ("connection not allowed by ruleset"); "unassigned reply code" past 8.
std::string_view reply_name(Reply r);

// VER REP RSV ATYP BND.ADDR BND.PORT; without a bound address, 0.0.0.0:0.
ReplyBytes reply(Reply code, const IpAddr* bound = nullptr, uint16_t port = 0);

// ---- Client side ----

// With auth, offers 0x00 and 0x02 as curl does (05 02 00 02); without, 05 01 00.
std::vector<uint8_t> client_greeting(bool with_auth);
// The server's choice; kNoAcceptable (FF) is a valid answer for the caller to report.
Step<uint8_t> parse_method_reply(std::span<const uint8_t> in);

// Errors when the user or password does not fit RFC 1929 (user 1-255 bytes, password 0-255).
Parsed<std::vector<uint8_t>> client_auth(std::string_view user, std::string_view password);
// STATUS 0 is success (true), anything else a refusal (false).
Step<bool> parse_auth_reply(std::span<const uint8_t> in);

// CONNECT: an address literal in the address form, a name in the domain form (socks5h: the
// proxy resolves it). Errors for what parse_request would refuse (bad name, port 0).
Parsed<std::vector<uint8_t>> client_connect(std::string_view host_or_addr, uint16_t port);

struct ServerReply {
  Reply code = Reply::general_failure;
  std::optional<IpAddr> bound;  // BND.ADDR as an address
  std::string bound_host;       // BND.ADDR as a domain, when the server sent one
  uint16_t port = 0;
};
// Any REP is done (a refusal is an answer); errors are only for bytes that are not a reply.
Step<ServerReply> parse_reply(std::span<const uint8_t> in);

}  // namespace edge::socks
