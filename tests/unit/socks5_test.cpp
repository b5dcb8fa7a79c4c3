// The SOCKS5 wire protocol: byte-exact vectors (curl's among them), every split point of every
// message, and the client builders read back by the server parsers.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <cctype>
#include <functional>

#include "tests/unit/print_parsed.h"

#include "core/socks/socks5.h"

using namespace edge;
using namespace edge::socks;

namespace {

using Bytes = std::vector<uint8_t>;

// "05 01 00 'example.com' 01bb": hex byte pairs, spaces ignored, text in single quotes.
Bytes wire(std::string_view spec) {
  Bytes out;
  for (size_t i = 0; i < spec.size();) {
    if (spec[i] == ' ') {
      ++i;
    } else if (spec[i] == '\'') {
      const size_t end = spec.find('\'', i + 1);
      REQUIRE(end != std::string_view::npos);
      out.insert(out.end(), spec.begin() + i + 1, spec.begin() + end);
      i = end + 1;
    } else {
      REQUIRE(i + 1 < spec.size());
      out.push_back(uint8_t(std::stoul(std::string(spec.substr(i, 2)), nullptr, 16)));
      i += 2;
    }
  }
  return out;
}

std::string hex(std::span<const uint8_t> b) {
  std::string s;
  for (uint8_t x : b) s += fmt::format("{}{:02x}", s.empty() ? "" : " ", x);
  return s;
}

// Feeds every prefix of `msg` and checks each against the verdict on the whole: a prefix is
// either need_more (asking for more than it has, and no more than the message's length) or the
// same verdict. For a message that parses, every proper prefix of it must be need_more.
template <class T>
Step<T> check_splits(const Bytes& msg, const std::function<Step<T>(std::span<const uint8_t>)>& parse) {
  const Step<T> whole = parse(msg);
  for (size_t cut = 0; cut < msg.size(); ++cut) {
    CAPTURE(cut);
    const Step<T> p = parse(std::span(msg).first(cut));
    if (whole.status == Status::done && cut < whole.consumed) REQUIRE(p.status == Status::need_more);
    if (p.status == Status::need_more) {
      CHECK(p.at_least > cut);
      if (whole.status == Status::done) CHECK(p.at_least <= whole.consumed);
      if (whole.status == Status::need_more) CHECK(p.at_least <= whole.at_least);
    } else {
      CHECK(p.status == whole.status);
      CHECK(p.reason == whole.reason);
      CHECK(p.consumed == whole.consumed);
      CHECK(hex(p.reply.bytes()) == hex(whole.reply.bytes()));
    }
  }
  return whole;
}

Step<Greeting> greeting(const Bytes& msg, MethodConfig cfg) {
  return check_splits<Greeting>(msg, [&](std::span<const uint8_t> in) { return parse_greeting(in, cfg); });
}
Step<Credentials> auth(const Bytes& msg) { return check_splits<Credentials>(msg, parse_auth); }
Step<Request> request(const Bytes& msg, RequestConfig cfg = {}) {
  return check_splits<Request>(msg, [&](std::span<const uint8_t> in) { return parse_request(in, cfg); });
}
Step<ServerReply> server_reply(const Bytes& msg) { return check_splits<ServerReply>(msg, parse_reply); }

constexpr MethodConfig kOpen{.require_auth = false, .allow_no_auth = false};
constexpr MethodConfig kAuth{.require_auth = true, .allow_no_auth = false};
constexpr MethodConfig kAuthOrOpen{.require_auth = true, .allow_no_auth = true};

}  // namespace

TEST_CASE("socks5: the first byte tells SOCKS5, SOCKS4 and HTTP apart") {
  CHECK(classify(0x05) == FirstByte::socks5);
  CHECK(classify(0x04) == FirstByte::socks4);
  for (uint8_t b : {uint8_t('G'), uint8_t('C'), uint8_t(0x16), uint8_t(0x00), uint8_t(0x06), uint8_t(0xff)})
    CHECK(classify(b) == FirstByte::http_or_other);
  CHECK(hex(socks4_reject()) == "00 5b 00 00 00 00 00 00");
}

TEST_CASE("socks5: curl's greetings and the method chosen under each config") {
  // curl with GSSAPI built in offers 00 and 01; without, only 00; with a user, 00 and 02.
  const Bytes gss = wire("05 02 00 01"), plain = wire("05 01 00"), with_user = wire("05 02 00 02");

  auto g = greeting(gss, kOpen);
  REQUIRE(g.status == Status::done);
  CHECK(g.consumed == 4);
  CHECK(g.value.method == kNoAuth);
  CHECK(g.value.offered[0x00]);
  CHECK(g.value.offered[0x01]);
  CHECK_FALSE(g.value.offered[0x02]);
  CHECK(hex(method_reply(g.value.method).bytes()) == "05 00");

  g = greeting(plain, kOpen);
  REQUIRE(g.status == Status::done);
  CHECK(g.consumed == 3);
  CHECK(g.value.method == kNoAuth);

  // Auth required: a client without a user is refused with 05 FF.
  for (const Bytes& m : {gss, plain}) {
    g = greeting(m, kAuth);
    REQUIRE(g.status == Status::error);
    CHECK(hex(g.reply.bytes()) == "05 ff");
    CHECK(g.reason.find("username/password required") != std::string::npos);
  }
  CHECK(greeting(gss, kAuth).reason == "greeting: no acceptable method (username/password required); the client offers 0x00 (no authentication), 0x01 (GSSAPI)");

  g = greeting(with_user, kAuth);
  REQUIRE(g.status == Status::done);
  CHECK(g.value.method == kUserPass);
  CHECK(hex(method_reply(g.value.method).bytes()) == "05 02");

  // Auth optional: 02 wins when offered, 00 is let in otherwise.
  CHECK(greeting(with_user, kAuthOrOpen).value.method == kUserPass);
  CHECK(greeting(plain, kAuthOrOpen).value.method == kNoAuth);
  // No auth configured: a client offering only 02 cannot be served.
  g = greeting(wire("05 01 02"), kOpen);
  CHECK(g.status == Status::error);
  CHECK(hex(g.reply.bytes()) == "05 ff");
  CHECK(greeting(wire("05 01 01"), kAuthOrOpen).status == Status::error);
  CHECK(hex(method_reply(kNoAcceptable).bytes()) == "05 ff");
}

TEST_CASE("socks5: greetings that are refused, and bytes after a greeting") {
  auto g = greeting(wire("05 00"), kOpen);
  CHECK(g.status == Status::error);
  CHECK(g.reason == "greeting: the client offers no method");
  CHECK(hex(g.reply.bytes()) == "05 ff");

  g = greeting(wire("04 01 00 50 c0 00 02 01 00"), kOpen);  // a SOCKS4 CONNECT
  CHECK(g.status == Status::error);
  CHECK(hex(g.reply.bytes()) == "00 5b 00 00 00 00 00 00");

  g = greeting(wire("'GET / HTTP/1.1'"), kOpen);
  CHECK(g.status == Status::error);
  CHECK(g.reason == "greeting: version 71, expected 5");
  CHECK(g.reply.empty());

  // A client that pipelines its request behind the greeting: only the greeting is consumed.
  g = greeting(wire("05 01 00 05 01 00 01 c0 00 02 01 00 50"), kOpen);
  REQUIRE(g.status == Status::done);
  CHECK(g.consumed == 3);
  CHECK(parse_greeting({}, kOpen).at_least == 3);
  CHECK(parse_greeting(wire("05 03"), kOpen).at_least == 5);
}

TEST_CASE("socks5: username/password sub-negotiation (RFC 1929)") {
  auto a = auth(wire("01 05 'alice' 06 's3cr3t' 05 01"));  // trailing bytes: the request's start
  REQUIRE(a.status == Status::done);
  CHECK(a.consumed == 14);
  CHECK(a.value.user == "alice");
  CHECK(a.value.password == "s3cr3t");
  CHECK(hex(auth_reply(true).bytes()) == "01 00");
  CHECK(hex(auth_reply(false).bytes()) == "01 01");

  a = auth(wire("01 01 00 00"));  // bytes, not text: a NUL user, an empty password
  REQUIRE(a.status == Status::done);
  CHECK(a.value.user == std::string(1, '\0'));
  CHECK(a.value.password.empty());

  Bytes longest = wire("01 ff");
  longest.insert(longest.end(), 255, 0xaa);
  longest.push_back(0xff);
  longest.insert(longest.end(), 255, 0xbb);
  a = auth(longest);
  REQUIRE(a.status == Status::done);
  CHECK(a.consumed == 513);
  CHECK(a.value.user == std::string(255, '\xaa'));
  CHECK(a.value.password == std::string(255, '\xbb'));

  a = auth(wire("05 05 'alice' 06 's3cr3t'"));  // the SOCKS version where RFC 1929's belongs
  CHECK(a.status == Status::error);
  CHECK(a.reason == "username/password: version 5, expected 1 (RFC 1929)");
  CHECK(hex(a.reply.bytes()) == "01 01");

  a = auth(wire("01 00 06 's3cr3t'"));
  CHECK(a.status == Status::error);
  CHECK(a.reason == "username/password: empty user name");
  CHECK(hex(a.reply.bytes()) == "01 01");
}

TEST_CASE("socks5: CONNECT requests to a domain, IPv4 and IPv6") {
  auto r = request(wire("05 01 00 03 0b 'example.com' 01 bb"));
  REQUIRE(r.status == Status::done);
  CHECK(r.consumed == 18);
  CHECK(r.value.cmd == Cmd::connect);
  CHECK(r.value.host == "example.com");
  CHECK_FALSE(r.value.addr);
  CHECK(r.value.port == 443);

  r = request(wire("05 01 00 01 c0 00 02 07 00 50"));
  REQUIRE(r.status == Status::done);
  CHECK(r.consumed == 10);
  CHECK(r.value.host.empty());
  REQUIRE(r.value.addr);
  CHECK(r.value.addr->str() == "192.0.2.7");
  CHECK(r.value.port == 80);

  r = request(wire("05 01 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 ff ff"));
  REQUIRE(r.status == Status::done);
  CHECK(r.consumed == 22);
  REQUIRE(r.value.addr);
  CHECK(r.value.addr->str() == "2001:db8::1");
  CHECK(r.value.port == 65535);

  r = request(wire("05 01 00 04 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 07 00 50"));
  REQUIRE(r.value.addr);
  CHECK(r.value.addr->str() == "::ffff:192.0.2.7");  // kept as sent; the egress policy normalises

  // Literals in the domain form take the address form: one destination, one form for the rules.
  r = request(wire("05 01 00 03 09 '192.0.2.7' 00 50"));
  REQUIRE(r.status == Status::done);
  CHECK(r.value.host.empty());
  REQUIRE(r.value.addr);
  CHECK(r.value.addr->str() == "192.0.2.7");
  r = request(wire("05 01 00 03 03 '::1' 00 50"));
  REQUIRE(r.value.addr);
  CHECK(r.value.addr->family() == Family::v6);
  // "127.1" is no literal edge reads: it stays a name (for the resolver and the rules to judge).
  CHECK(request(wire("05 01 00 03 05 '127.1' 00 50")).value.host == "127.1");

  // Bytes after the request (the tunnel's first bytes) are not consumed.
  r = request(wire("05 01 00 03 0b 'example.com' 01 bb 16 03 01"));
  REQUIRE(r.status == Status::done);
  CHECK(r.consumed == 18);

  CHECK(parse_request({}).at_least == 8);
  CHECK(parse_request(wire("05 01 00 01")).at_least == 10);
  CHECK(parse_request(wire("05 01 00 04")).at_least == 22);
  CHECK(parse_request(wire("05 01 00 03")).at_least == 8);
  CHECK(parse_request(wire("05 01 00 03 0b")).at_least == 18);
}

TEST_CASE("socks5: requests refused, each with its reply code") {
  const std::string general = "05 01 00 01 00 00 00 00 00 00";
  const std::string command = "05 07 00 01 00 00 00 00 00 00";
  const std::string atyp = "05 08 00 01 00 00 00 00 00 00";
  struct Case {
    const char* msg;
    const char* reason;
    const std::string& reply;
  };
  for (const Case& c : {
           Case{"04 01 00 01 c0 00 02 07 00 50", "request: version 4, expected 5", general},
           Case{"05 02 00 01 c0 00 02 07 00 50", "request: BIND is not supported", command},
           Case{"05 03 00 01 00 00 00 00 00 00", "request: UDP ASSOCIATE is not supported", command},
           Case{"05 00 00 01 c0 00 02 07 00 50", "request: command 0 is not CONNECT (1), BIND (2) or UDP ASSOCIATE (3)", command},
           Case{"05 09 00 01 c0 00 02 07 00 50", "request: command 9 is not CONNECT (1), BIND (2) or UDP ASSOCIATE (3)", command},
           Case{"05 01 01 01 c0 00 02 07 00 50", "request: reserved byte is 1, expected 0", general},
           Case{"05 01 00 09 c0 00 02 07 00 50", "request: address type 9 is not IPv4 (1), domain (3) or IPv6 (4)", atyp},
           Case{"05 01 00 00 c0 00 02 07 00 50", "request: address type 0 is not IPv4 (1), domain (3) or IPv6 (4)", atyp},
           Case{"05 01 00 03 00 00 50", "request: empty domain name", general},
           Case{"05 01 00 03 0b 'example' 00 '.com' 01 bb", "request: domain name has byte 0x00 at offset 7 (control, space or DEL)", general},
           Case{"05 01 00 03 04 'a' 0a 'b' 20 01 bb", "request: domain name has byte 0x0a at offset 1 (control, space or DEL)", general},
           Case{"05 01 00 03 02 'a' 7f 01 bb", "request: domain name has byte 0x7f at offset 1 (control, space or DEL)", general},
           Case{"05 01 00 03 03 'a b' 01 bb", "request: domain name has byte 0x20 at offset 1 (control, space or DEL)", general},
           Case{"05 01 00 01 c0 00 02 07 00 00", "request: CONNECT to port 0", general},
       }) {
    CAPTURE(c.msg);
    const auto r = request(wire(c.msg));
    CHECK(r.status == Status::error);
    CHECK(r.reason == c.reason);
    CHECK(hex(r.reply.bytes()) == c.reply);
  }
  // The bad byte is reported as soon as it arrives, before the rest of the name.
  CHECK(parse_request(wire("05 01 00 03 0b 'exa' 00")).status == Status::error);
  CHECK(parse_request(wire("05 09")).status == Status::error);
}

TEST_CASE("socks5: BIND and UDP ASSOCIATE parse when enabled, port 0 allowed") {
  auto r = request(wire("05 03 00 01 00 00 00 00 00 00"), {.bind = false, .udp_associate = true});
  REQUIRE(r.status == Status::done);
  CHECK(r.value.cmd == Cmd::udp_associate);
  CHECK(r.value.port == 0);
  r = request(wire("05 02 00 01 c0 00 02 07 10 00"), {.bind = true});
  REQUIRE(r.status == Status::done);
  CHECK(r.value.cmd == Cmd::bind);
  CHECK(r.value.port == 4096);
  CHECK(request(wire("05 02 00 01 c0 00 02 07 10 00"), {.udp_associate = true}).status == Status::error);
}

TEST_CASE("socks5: reply encoding and names") {
  CHECK(hex(reply(Reply::succeeded).bytes()) == "05 00 00 01 00 00 00 00 00 00");
  const auto v4 = *IpAddr::parse("192.0.2.1");
  CHECK(hex(reply(Reply::succeeded, &v4, 50000).bytes()) == "05 00 00 01 c0 00 02 01 c3 50");
  const auto v6 = *IpAddr::parse("2001:db8::2");
  const auto r6 = reply(Reply::connection_refused, &v6, 443);
  CHECK(r6.size() == 22);
  CHECK(hex(r6.bytes()) == "05 05 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02 01 bb");
  CHECK(hex(reply(Reply::not_allowed_by_ruleset).bytes()) == "05 02 00 01 00 00 00 00 00 00");

  const char* names[] = {"succeeded", "general failure", "connection not allowed by ruleset", "network unreachable",
                         "host unreachable", "connection refused", "TTL expired", "command not supported",
                         "address type not supported"};
  for (uint8_t code = 0; code <= 8; ++code) CHECK(reply_name(Reply(code)) == names[code]);
  CHECK(reply_name(Reply(9)) == "unassigned reply code");
  CHECK(reply_name(Reply(0xff)) == "unassigned reply code");
}

TEST_CASE("socks5: client builders round-trip through the server parsers") {
  CHECK(hex(client_greeting(false)) == "05 01 00");
  CHECK(hex(client_greeting(true)) == "05 02 00 02");
  CHECK(greeting(client_greeting(true), kAuth).value.method == kUserPass);
  CHECK(greeting(client_greeting(false), kOpen).value.method == kNoAuth);

  const auto creds = client_auth("alice", "pa:ss\x01");
  REQUIRE(creds);
  CHECK(hex(*creds) == "01 05 61 6c 69 63 65 06 70 61 3a 73 73 01");
  const auto a = auth(*creds);
  REQUIRE(a.status == Status::done);
  CHECK(a.consumed == creds->size());
  CHECK(a.value.user == "alice");
  CHECK(a.value.password == "pa:ss\x01");
  CHECK(client_auth("", "x").error().find("empty") != std::string::npos);
  CHECK(client_auth(std::string(256, 'u'), "").error() == "the SOCKS5 user name is 256 bytes, more than RFC 1929 carries (255)");
  CHECK(client_auth("u", std::string(256, 'p')).error() == "the SOCKS5 password is 256 bytes, more than RFC 1929 carries (255)");
  CHECK(client_auth(std::string(255, 'u'), std::string(255, 'p')));

  const auto name = client_connect("example.com", 443);
  REQUIRE(name);
  CHECK(hex(*name) == hex(wire("05 01 00 03 0b 'example.com' 01 bb")));
  for (const char* host : {"example.com", "192.0.2.7", "2001:db8::1", "::ffff:10.0.0.1", "xn--bcher-kva.example"}) {
    CAPTURE(host);
    const auto out = client_connect(host, 8080);
    REQUIRE(out);
    const auto r = request(*out);
    REQUIRE(r.status == Status::done);
    CHECK(r.consumed == out->size());
    CHECK(r.value.port == 8080);
    const bool literal = bool(IpAddr::parse(host));
    CHECK(r.value.host == (literal ? "" : host));
    CHECK((r.value.addr ? r.value.addr->str() : "") == (literal ? IpAddr::parse(host)->str() : ""));
  }
  CHECK(hex(*client_connect("192.0.2.7", 80)) == "05 01 00 01 c0 00 02 07 00 50");
  CHECK(client_connect("", 80).error() == "the host name is empty");
  CHECK(client_connect(std::string(256, 'a'), 80).error() == "the host name is 256 bytes, more than SOCKS5 carries (255)");
  CHECK(client_connect(std::string(255, 'a'), 80));
  CHECK(client_connect("a b", 80).error() == "the host name has byte 0x20 at offset 1 (control, space or DEL)");
  CHECK(client_connect("example.com", 0).error() == "SOCKS5 CONNECT to port 0");
}

TEST_CASE("socks5: client reads method, auth and request replies") {
  auto m = check_splits<uint8_t>(wire("05 02 ff"), parse_method_reply);
  REQUIRE(m.status == Status::done);
  CHECK(m.consumed == 2);
  CHECK(m.value == kUserPass);
  CHECK(parse_method_reply(wire("05 ff")).value == kNoAcceptable);
  CHECK(parse_method_reply(wire("'HTTP/1.1 400'")).status == Status::error);

  auto a = check_splits<bool>(wire("01 00"), parse_auth_reply);
  REQUIRE(a.status == Status::done);
  CHECK(a.value);
  a = parse_auth_reply(wire("01 01"));
  REQUIRE(a.status == Status::done);
  CHECK_FALSE(a.value);
  CHECK(parse_auth_reply(wire("05 00")).status == Status::error);

  // Every reply edge builds reads back the same.
  const auto v6 = *IpAddr::parse("2001:db8::2");
  for (const auto& [code, bound] : {std::pair{Reply::succeeded, &v6}, std::pair{Reply::host_unreachable, (const IpAddr*)nullptr}}) {
    const auto bytes = reply(code, bound, 1080);
    const Bytes msg(bytes.bytes().begin(), bytes.bytes().end());
    const auto r = server_reply(msg);
    REQUIRE(r.status == Status::done);
    CHECK(r.consumed == msg.size());
    CHECK(r.value.code == code);
    REQUIRE(r.value.bound);
    CHECK(*r.value.bound == (bound ? *bound : IpAddr()));
    CHECK(r.value.port == (bound ? 1080 : 0));
  }

  // A domain BND.ADDR, an unassigned code, trailing tunnel bytes.
  auto r = server_reply(wire("05 0a 00 03 05 'proxy' 04 38 'SSH-2.0'"));
  REQUIRE(r.status == Status::done);
  CHECK(r.consumed == 12);
  CHECK(r.value.code == Reply(10));
  CHECK(r.value.bound_host == "proxy");
  CHECK_FALSE(r.value.bound);
  CHECK(r.value.port == 1080);

  r = server_reply(wire("05 00 00 07 00 00 00 00 00 00"));
  CHECK(r.status == Status::error);
  CHECK(r.reason == "reply: address type 7 is not IPv4 (1), domain (3) or IPv6 (4)");
  CHECK(r.reply.empty());  // the client sends nothing back; it closes
  r = server_reply(wire("'HTTP/1.1 400 Bad Request'"));
  CHECK(r.status == Status::error);
  CHECK(r.reason == "reply: version 72, expected 5 (not a SOCKS5 proxy?)");
}
