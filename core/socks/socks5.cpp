// The SOCKS5 wire protocol (RFC 1928/1929): parsers and builders on bytes.
#include "core/socks/socks5.h"

#include <fmt/format.h>

#include <cassert>

namespace edge::socks {
namespace {

constexpr uint8_t kVersion = 5, kAuthVersion = 1;
constexpr uint8_t kAtypV4 = 1, kAtypDomain = 3, kAtypV6 = 4;

template <class T>
Step<T> need(size_t at_least, size_t have) {
  assert(at_least > have);
  (void)have;
  Step<T> s;
  s.at_least = at_least;
  return s;
}

template <class T>
Step<T> fail(std::string reason, ReplyBytes reply = {}) {
  Step<T> s;
  s.status = Status::error;
  s.reason = std::move(reason);
  s.reply = reply;
  return s;
}

template <class T>
Step<T> done(T value, size_t consumed) {
  Step<T> s;
  s.status = Status::done;
  s.consumed = consumed;
  s.value = std::move(value);
  return s;
}

template <class T, class U>
Step<T> pass_on(Step<U>&& from) {  // a need_more or error of a part, as the whole's
  Step<T> s;
  s.status = from.status;
  s.at_least = from.at_least;
  s.reason = std::move(from.reason);
  s.reply = from.reply;
  return s;
}

std::string_view method_name(uint8_t m) {
  switch (m) {
    case 0x00: return "no authentication";
    case 0x01: return "GSSAPI";
    case 0x02: return "username/password";
    default: return m < 0x80 ? "IANA-assigned" : "private";
  }
}

std::string_view cmd_name(uint8_t c) {
  switch (c) {
    case 1: return "CONNECT";
    case 2: return "BIND";
    case 3: return "UDP ASSOCIATE";
    default: return "unknown";
  }
}

// Names go to a resolver and into logs and rules: a control byte, space or DEL is never part
// of a host name and could split a log line or a rule match.
bool bad_name_byte(uint8_t c) { return c <= 0x20 || c == 0x7f; }

// The first bad byte of a name (or of its start, while it is still arriving), else npos.
size_t bad_name_at(std::span<const uint8_t> name) {
  for (size_t i = 0; i < name.size(); ++i)
    if (bad_name_byte(name[i])) return i;
  return std::string_view::npos;
}

uint16_t port_at(std::span<const uint8_t> in, size_t i) { return uint16_t(in[i] << 8 | in[i + 1]); }

void push_port(auto& out, uint16_t port) {
  out.push_back(uint8_t(port >> 8));
  out.push_back(uint8_t(port));
}

struct AddrPort {
  std::optional<IpAddr> addr;
  std::string_view name;  // into the input
  uint16_t port = 0;
};

// ATYP ADDR PORT from in[3] on, the tail requests and replies share. `strict` is the server
// reading a request: the name must be one it can resolve, and errors carry its reply.
Step<AddrPort> read_addr_port(std::span<const uint8_t> in, std::string_view what, bool strict) {
  constexpr size_t at = 4;  // where ADDR starts
  if (in.size() <= 3) return need<AddrPort>(at + (strict ? 1 : 0) + 1 + 2, in.size());
  const uint8_t atyp = in[3];
  size_t addr_len = 0;
  if (atyp == kAtypV4) {
    addr_len = 4;
  } else if (atyp == kAtypV6) {
    addr_len = 16;
  } else if (atyp == kAtypDomain) {
    if (in.size() <= at) return need<AddrPort>(at + 1 + (strict ? 1 : 0) + 2, in.size());
    const size_t n = in[at];
    if (strict && n == 0) return fail<AddrPort>(fmt::format("{}: empty domain name", what), reply(Reply::general_failure));
    addr_len = 1 + n;
    if (strict) {
      const auto name = in.subspan(at + 1, std::min(n, in.size() - at - 1));
      if (const size_t bad = bad_name_at(name); bad != std::string_view::npos)
        return fail<AddrPort>(fmt::format("{}: domain name has byte 0x{:02x} at offset {} (control, space or DEL)", what, name[bad], bad),
                              reply(Reply::general_failure));
    }
  } else {
    return fail<AddrPort>(fmt::format("{}: address type {} is not IPv4 (1), domain (3) or IPv6 (4)", what, atyp),
                          reply(Reply::address_type_not_supported));
  }
  const size_t total = at + addr_len + 2;
  if (in.size() < total) return need<AddrPort>(total, in.size());
  AddrPort r;
  if (atyp == kAtypDomain)
    r.name = std::string_view(reinterpret_cast<const char*>(in.data() + at + 1), addr_len - 1);
  else
    r.addr = IpAddr::from_bytes(atyp == kAtypV4 ? Family::v4 : Family::v6, in.data() + at);
  r.port = port_at(in, at + addr_len);
  return done(r, total);
}

// Why a name cannot go out as a domain DST.ADDR, or empty: the checks parse_request makes.
std::string name_problem(std::string_view name) {
  if (name.empty()) return "the host name is empty";
  if (name.size() > 255) return fmt::format("the host name is {} bytes, more than SOCKS5 carries (255)", name.size());
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(name.data()), name.size());
  if (const size_t bad = bad_name_at(bytes); bad != std::string_view::npos)
    return fmt::format("the host name has byte 0x{:02x} at offset {} (control, space or DEL)", bytes[bad], bad);
  return "";
}

}  // namespace

FirstByte classify(uint8_t first) {
  if (first == 0x05) return FirstByte::socks5;
  if (first == 0x04) return FirstByte::socks4;
  return FirstByte::http_or_other;
}

std::array<uint8_t, 8> socks4_reject() { return {0x00, 0x5B, 0, 0, 0, 0, 0, 0}; }

ReplyBytes::ReplyBytes(std::initializer_list<uint8_t> b) {
  for (uint8_t x : b) push_back(x);
}

void ReplyBytes::push_back(uint8_t b) {
  assert(len_ < buf_.size());
  buf_[len_++] = b;
}

// ---- Server side ----

Step<Greeting> parse_greeting(std::span<const uint8_t> in, MethodConfig cfg) {
  if (in.empty()) return need<Greeting>(3, 0);
  if (in[0] == 0x04) {
    ReplyBytes r;
    for (uint8_t b : socks4_reject()) r.push_back(b);
    return fail<Greeting>("greeting: SOCKS4 is not supported (only SOCKS5)", r);
  }
  // Another version has no reply of its own: whatever the client speaks, it is not SOCKS5.
  if (in[0] != kVersion) return fail<Greeting>(fmt::format("greeting: version {}, expected 5", in[0]));
  if (in.size() < 2) return need<Greeting>(3, 1);
  const size_t n = in[1];
  if (n == 0) return fail<Greeting>("greeting: the client offers no method", method_reply(kNoAcceptable));
  if (in.size() < 2 + n) return need<Greeting>(2 + n, in.size());
  Greeting g;
  for (size_t i = 0; i < n; ++i) g.offered.set(in[2 + i]);
  const bool user_pass_ok = cfg.require_auth;
  const bool no_auth_ok = !cfg.require_auth || cfg.allow_no_auth;
  if (user_pass_ok && g.offered[kUserPass])
    g.method = kUserPass;
  else if (no_auth_ok && g.offered[kNoAuth])
    g.method = kNoAuth;
  if (g.method == kNoAcceptable) {
    std::string offered;
    for (size_t m = 0; m < 256; ++m)
      if (g.offered[m]) offered += fmt::format("{}0x{:02x} ({})", offered.empty() ? "" : ", ", m, method_name(uint8_t(m)));
    return fail<Greeting>(fmt::format("greeting: no acceptable method ({} required); the client offers {}",
                                      cfg.require_auth ? "username/password" : "no authentication", offered),
                          method_reply(kNoAcceptable));
  }
  return done(g, 2 + n);
}

ReplyBytes method_reply(uint8_t method) { return {kVersion, method}; }

Step<Credentials> parse_auth(std::span<const uint8_t> in) {
  if (in.empty()) return need<Credentials>(4, 0);
  if (in[0] != kAuthVersion)
    return fail<Credentials>(fmt::format("username/password: version {}, expected 1 (RFC 1929)", in[0]), auth_reply(false));
  if (in.size() < 2) return need<Credentials>(4, 1);
  const size_t ulen = in[1];
  if (ulen == 0) return fail<Credentials>("username/password: empty user name", auth_reply(false));
  const size_t plen_at = 2 + ulen;
  if (in.size() <= plen_at) return need<Credentials>(plen_at + 1, in.size());
  const size_t total = plen_at + 1 + in[plen_at];
  if (in.size() < total) return need<Credentials>(total, in.size());
  const auto text = [&](size_t from, size_t n) { return std::string(reinterpret_cast<const char*>(in.data() + from), n); };
  return done(Credentials{text(2, ulen), text(plen_at + 1, in[plen_at])}, total);
}

ReplyBytes auth_reply(bool ok) { return {kAuthVersion, uint8_t(ok ? 0x00 : 0x01)}; }

Step<Request> parse_request(std::span<const uint8_t> in, RequestConfig cfg) {
  const auto general = reply(Reply::general_failure);
  // Version, command and RSV are judged as each arrives; the address reader does the rest.
  if (!in.empty() && in[0] != kVersion) return fail<Request>(fmt::format("request: version {}, expected 5", in[0]), general);
  if (in.size() >= 2) {
    const uint8_t c = in[1];
    const bool known = c >= 1 && c <= 3;
    const bool enabled = c == 1 || (c == 2 && cfg.bind) || (c == 3 && cfg.udp_associate);
    if (!enabled)
      return fail<Request>(known ? fmt::format("request: {} is not supported", cmd_name(c))
                                 : fmt::format("request: command {} is not CONNECT (1), BIND (2) or UDP ASSOCIATE (3)", c),
                           reply(Reply::command_not_supported));
  }
  // RFC 1928 fixes RSV at 0 and every client known sends 0; anything else means the peer is
  // out of step, and guessing what it meant is worse than refusing.
  if (in.size() >= 3 && in[2] != 0) return fail<Request>(fmt::format("request: reserved byte is {}, expected 0", in[2]), general);
  auto a = read_addr_port(in, "request", true);
  if (a.status != Status::done) return pass_on<Request>(std::move(a));
  Request r;
  r.cmd = Cmd(in[1]);
  r.port = a.value.port;
  if (a.value.addr) {
    r.addr = a.value.addr;
  } else if (auto lit = IpAddr::parse(a.value.name)) {
    r.addr = *lit;
  } else {
    r.host = std::string(a.value.name);
  }
  // BIND and UDP ASSOCIATE may name port 0 (the client does not know its port yet); a
  // connection to port 0 cannot be made.
  if (r.cmd == Cmd::connect && r.port == 0) return fail<Request>("request: CONNECT to port 0", general);
  return done(std::move(r), a.consumed);
}

std::string_view reply_name(Reply r) {
  switch (r) {
    case Reply::succeeded: return "succeeded";
    case Reply::general_failure: return "general failure";
    case Reply::not_allowed_by_ruleset: return "connection not allowed by ruleset";
    case Reply::network_unreachable: return "network unreachable";
    case Reply::host_unreachable: return "host unreachable";
    case Reply::connection_refused: return "connection refused";
    case Reply::ttl_expired: return "TTL expired";
    case Reply::command_not_supported: return "command not supported";
    case Reply::address_type_not_supported: return "address type not supported";
  }
  return "unassigned reply code";
}

ReplyBytes reply(Reply code, const IpAddr* bound, uint16_t port) {
  const IpAddr any;  // 0.0.0.0
  const IpAddr& a = bound ? *bound : any;
  ReplyBytes r{kVersion, uint8_t(code), 0x00, a.family() == Family::v4 ? kAtypV4 : kAtypV6};
  for (size_t i = 0; i < a.size(); ++i) r.push_back(a.bytes()[i]);
  push_port(r, bound ? port : 0);
  return r;
}

// ---- Client side ----

std::vector<uint8_t> client_greeting(bool with_auth) {
  if (with_auth) return {kVersion, 2, kNoAuth, kUserPass};
  return {kVersion, 1, kNoAuth};
}

Step<uint8_t> parse_method_reply(std::span<const uint8_t> in) {
  if (in.empty()) return need<uint8_t>(2, 0);
  if (in[0] != kVersion) return fail<uint8_t>(fmt::format("method reply: version {}, expected 5 (not a SOCKS5 proxy?)", in[0]));
  if (in.size() < 2) return need<uint8_t>(2, 1);
  return done(in[1], 2);
}

Parsed<std::vector<uint8_t>> client_auth(std::string_view user, std::string_view password) {
  if (user.empty()) return parse_error<std::vector<uint8_t>>("the SOCKS5 user name is empty (RFC 1929 needs 1-255 bytes)");
  if (user.size() > 255)
    return parse_error<std::vector<uint8_t>>(fmt::format("the SOCKS5 user name is {} bytes, more than RFC 1929 carries (255)", user.size()));
  if (password.size() > 255)
    return parse_error<std::vector<uint8_t>>(fmt::format("the SOCKS5 password is {} bytes, more than RFC 1929 carries (255)", password.size()));
  std::vector<uint8_t> out{kAuthVersion, uint8_t(user.size())};
  out.insert(out.end(), user.begin(), user.end());
  out.push_back(uint8_t(password.size()));
  out.insert(out.end(), password.begin(), password.end());
  return out;
}

Step<bool> parse_auth_reply(std::span<const uint8_t> in) {
  if (in.empty()) return need<bool>(2, 0);
  if (in[0] != kAuthVersion) return fail<bool>(fmt::format("username/password reply: version {}, expected 1 (RFC 1929)", in[0]));
  if (in.size() < 2) return need<bool>(2, 1);
  return done(in[1] == 0x00, 2);
}

Parsed<std::vector<uint8_t>> client_connect(std::string_view host_or_addr, uint16_t port) {
  if (port == 0) return parse_error<std::vector<uint8_t>>("SOCKS5 CONNECT to port 0");
  std::vector<uint8_t> out{kVersion, uint8_t(Cmd::connect), 0x00};
  if (auto lit = IpAddr::parse(host_or_addr)) {
    out.push_back(lit->family() == Family::v4 ? kAtypV4 : kAtypV6);
    out.insert(out.end(), lit->bytes(), lit->bytes() + lit->size());
  } else {
    if (auto problem = name_problem(host_or_addr); !problem.empty()) return parse_error<std::vector<uint8_t>>(std::move(problem));
    out.push_back(kAtypDomain);
    out.push_back(uint8_t(host_or_addr.size()));
    out.insert(out.end(), host_or_addr.begin(), host_or_addr.end());
  }
  push_port(out, port);
  return out;
}

Step<ServerReply> parse_reply(std::span<const uint8_t> in) {
  // Lenient where it costs nothing: the bound address is only shown, so RSV and an empty
  // domain are read as they come.
  if (!in.empty() && in[0] != kVersion)
    return fail<ServerReply>(fmt::format("reply: version {}, expected 5 (not a SOCKS5 proxy?)", in[0]));
  auto a = read_addr_port(in, "reply", false);
  if (a.status != Status::done) {
    a.reply = {};
    return pass_on<ServerReply>(std::move(a));
  }
  ServerReply r;
  r.code = Reply(in[1]);
  r.bound = a.value.addr;
  r.bound_host = std::string(a.value.name);
  r.port = a.value.port;
  return done(std::move(r), a.consumed);
}

}  // namespace edge::socks
