// Dialing, the upstream connection and its pool (core/net/upstream.h).
#include "core/net/upstream.h"

#include <openssl/ssl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "core/tls/contexts.h"

namespace edge {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

IpAddr to_ipaddr(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddr::from_bytes(Family::v4, a.to_v4().to_bytes().data());
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return IpAddr::from_bytes(Family::v4, asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes().data());
  return IpAddr::from_bytes(Family::v6, v6.to_bytes().data());
}

asio::ip::address to_asio(const IpAddr& a) {
  if (a.family() == Family::v4) {
    asio::ip::address_v4::bytes_type b;
    std::copy(a.bytes(), a.bytes() + 4, b.begin());
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b;
  std::copy(a.bytes(), a.bytes() + 16, b.begin());
  return asio::ip::address_v6(b);
}

namespace {
// The flow-table tuple of an upstream connection, read once when it is made.
Tuple reply_tuple(const tcp::socket& up) {
  beast::error_code ec;
  const auto remote = up.remote_endpoint(ec), local = up.local_endpoint(ec);
  return {to_ipaddr(remote.address()), to_ipaddr(local.address()), remote.port(), local.port()};
}
// The source address of an outgoing connection (--to-source): the port stays the kernel's
// choice, made at connect time (IP_BIND_ADDRESS_NO_PORT), so bound sockets do not use up
// ephemeral ports that other destinations could share.
boost::system::error_code bind_source(tcp::socket& s, const IpAddr& source) {
  boost::system::error_code ec;
  const auto addr = to_asio(source);
  s.open(addr.is_v4() ? tcp::v4() : tcp::v6(), ec);
  if (ec) return ec;
  int one = 1;
  ::setsockopt(s.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  s.bind(tcp::endpoint(addr, 0), ec);
  return ec;
}
}  // namespace

// The buffer starts large enough for a response head and a small body in one read (larger
// bodies are read straight into the connection's copy buffer).
Upstream::Upstream(tcp::socket s) : stream(std::move(s)), reply(reply_tuple(stream.socket())) { buffer.reserve(4096); }

asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> dial(DialTarget t) {
  auto ex = co_await asio::this_coro::executor;
  const std::string name(t.name);
  ProxyError last{502, "destination_not_found", name + " did not resolve"};
  for (const IpAddr& a : t.addresses) {
    beast::tcp_stream s(ex);
    if (t.source) {
      if (t.source->family() != a.family()) {
        last = {502, "destination_unavailable", name + " has no address of the source address's family"};
        continue;
      }
      if (auto bound = bind_source(s.socket(), *t.source); bound) {
        last = {502, "destination_unavailable", "cannot use source address " + t.source->str() + ": " + bound.message()};
        continue;
      }
    }
    s.expires_after(t.timeout);
    auto [ec] = co_await s.async_connect(tcp::endpoint(to_asio(a), t.port), nothrow);
    if (!ec) {
      s.socket().set_option(tcp::no_delay(true));
      s.expires_never();
      auto up = std::make_unique<Upstream>(s.release_socket());
      if (t.tls) {
        // SNI is the destination's name, and its certificate must carry that name (or
        // address) and chain to the trusted roots, unless verification is off.
        auto& tls = up->stream.start_tls(*t.tls);
        tls::prepare_client(tls, std::string(t.tls_host), t.verify);
        up->stream.expires_after(t.timeout);
        auto [hec] = co_await up->stream.async_handshake(asio::ssl::stream_base::client, nothrow);
        up->stream.expires_never();
        if (hec) {
          const bool timeout = hec == beast::error::timeout;
          const bool cert = SSL_get_verify_result(tls.native_handle()) != X509_V_OK;
          last = {502, !timeout && cert ? "tls_certificate_error" : "tls_protocol_error",
                  name + ": TLS handshake failed: " + (timeout ? std::string("timed out") : tls::handshake_error(tls, hec))};
          continue;
        }
      }
      std::pair<std::unique_ptr<Upstream>, ProxyError> ok{std::move(up), ProxyError{}};
      co_return ok;
    }
    if (ec == beast::error::timeout) last = {504, "connection_timeout", "connecting to " + name + " timed out"};
    else if (ec == asio::error::connection_refused) last = {502, "connection_refused", name + " refused the connection"};
    else last = {502, "destination_unavailable", name + ": " + ec.message()};
  }
  std::pair<std::unique_ptr<Upstream>, ProxyError> none{nullptr, last};
  co_return none;
}

std::unique_ptr<Upstream> UpstreamPool::take(size_t slot) {
  if (slot >= idle_.size()) return nullptr;
  auto& q = idle_[slot];
  while (!q.empty()) {
    auto u = std::move(q.back());
    q.pop_back();
    // Just back from a request: the far side has had no time to close it (and if it did, the
    // stale-connection retry covers a bodiless request). Saves a syscall per request.
    if (Deadlines::coarse_now() - u->idle_since < std::chrono::milliseconds(200)) return u;
    char c;
    const ssize_t n = ::recv(u->stream.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return u;  // open and quiet: reusable
  }
  return nullptr;
}

void UpstreamPool::put(size_t slot, std::unique_ptr<Upstream> u) {
  if (slot >= idle_.size()) idle_.resize(slot + 1);
  u->idle_since = Deadlines::coarse_now();
  if (idle_[slot].size() < keep_) idle_[slot].push_back(std::move(u));
}

}  // namespace edge
