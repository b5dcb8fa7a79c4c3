// Chaining to a parent proxy (engines/proxy/parent.h).
#include "engines/proxy/parent.h"

#include <openssl/evp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "core/base/errors.h"
#include "core/net/resolve.h"
#include "core/socks/socks5.h"

namespace edge::proxy {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

std::string with_brackets(const std::string& host) { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }

// Reads into the upstream's buffer until `parse` has a message; need_more when the parent
// closed or went quiet.
template <class Parse>
auto socks_step(Upstream& up, Millis timeout, Parse parse) -> asio::awaitable<decltype(parse(std::span<const uint8_t>{}))> {
  while (true) {
    auto step = parse(std::span<const uint8_t>(static_cast<const uint8_t*>(up.buffer.data().data()), up.buffer.size()));
    if (step.status != socks::Status::need_more) {
      if (step.status == socks::Status::done) up.buffer.consume(step.consumed);
      co_return step;
    }
    up.stream.expires_after(timeout);
    auto [ec, n] = co_await up.stream.async_read_some(up.buffer.prepare(512), nothrow);
    if (ec) co_return step;
    up.buffer.commit(n);
  }
}

asio::awaitable<bool> send_bytes(Upstream& up, const std::vector<uint8_t>& bytes, Millis timeout) {
  up.stream.expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(up.stream, asio::buffer(bytes), nothrow);
  co_return !ec;
}

}  // namespace

Parent make_parent(const std::string& text, const std::vector<std::string>& no_parent_for, Millis timeout) {
  Parent p;
  std::string error;
  auto url = parse_proxy_url(text, error);
  if (!url) throw Fatal(Exit::usage, "--parent: " + error);
  if (url->scheme != "http" && url->scheme != "socks5" && url->scheme != "socks5h")
    throw Fatal(Exit::usage, "--parent: the scheme " + url->scheme + ":// is not supported (expected http://, socks5:// or socks5h://)");
  p.url = *url;
  p.name = with_brackets(url->host) + ":" + std::to_string(url->port);
  if (!url->user.empty() && p.http()) {
    const std::string plain = url->user + ":" + url->password;
    std::string b64(4 * ((plain.size() + 2) / 3) + 1, '\0');
    b64.resize(size_t(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), reinterpret_cast<const unsigned char*>(plain.data()), int(plain.size()))));
    p.authorization = "Basic " + b64;
  }
  for (const auto& list : no_parent_for) p.no_parent_for += (p.no_parent_for.empty() ? "" : ",") + list;
  p.addresses = resolve_host(url->host, timeout).addresses;
  if (p.addresses.empty()) throw Fatal(Exit::usage, "--parent: the parent's name " + url->host + " does not resolve");
  return p;
}

asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> dial_parent(const Parent& p, Millis timeout) {
  auto dialed = co_await dial({.addresses = p.addresses, .port = p.url.port, .name = p.name, .timeout = timeout});
  if (!dialed.first) dialed.second.detail = "the parent proxy: " + dialed.second.detail;
  co_return dialed;
}

asio::awaitable<std::pair<std::unique_ptr<Upstream>, ProxyError>> tunnel_via(const Parent& p, const std::string& host, uint16_t port, Millis timeout) {
  auto dialed = co_await dial_parent(p, timeout);
  if (!dialed.first) co_return dialed;
  Upstream& up = *dialed.first;
  const std::string target = with_brackets(host) + ":" + std::to_string(port);
  std::pair<std::unique_ptr<Upstream>, ProxyError> failed{nullptr, ProxyError{502, "destination_unavailable", ""}};
  if (p.http()) {
    std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
    if (!p.authorization.empty()) request += "Proxy-Authorization: " + p.authorization + "\r\n";
    request += "\r\n";
    up.stream.expires_after(timeout);
    auto [wec, wn] = co_await asio::async_write(up.stream, asio::buffer(request), nothrow);
    bhttp::response_parser<bhttp::empty_body> res;
    res.skip(true);  // a CONNECT answer has no body: what follows it is the tunnel's
    beast::error_code rec = wec;
    if (!rec) {
      up.stream.expires_after(timeout);
      auto [e, n] = co_await bhttp::async_read_header(up.stream, up.buffer, res, nothrow);
      rec = e;
    }
    if (rec) {
      failed.second.detail = "the parent proxy " + p.name + " gave no answer to CONNECT " + target + ": " + rec.message();
      co_return failed;
    }
    if (res.get().result_int() / 100 != 2) {
      failed.second.detail = "the parent proxy " + p.name + " answered " + std::to_string(res.get().result_int()) + " " +
                             std::string(res.get().reason()) + " to CONNECT " + target;
      co_return failed;
    }
    up.stream.expires_never();
    co_return dialed;
  }
  // SOCKS5: greeting, user/password when the URL has them, CONNECT with the name as given.
  const auto protocol_error = [&](std::string what) {
    return std::pair<std::unique_ptr<Upstream>, ProxyError>{nullptr, ProxyError{502, "destination_unavailable", "the parent SOCKS5 proxy " + p.name + ": " + what}};
  };
  const std::vector<uint8_t> greeting = socks::client_greeting(!p.url.user.empty());  // named: see send_bytes's callers in server.cpp
  if (!co_await send_bytes(up, greeting, timeout)) co_return protocol_error("the greeting could not be sent");
  auto method = co_await socks_step(up, timeout, [](auto b) { return socks::parse_method_reply(b); });
  if (method.status != socks::Status::done) co_return protocol_error("no answer to the greeting");
  if (method.value == socks::kUserPass) {
    auto auth = socks::client_auth(p.url.user, p.url.password);
    if (!auth) co_return protocol_error(auth.error());
    if (!co_await send_bytes(up, *auth, timeout)) co_return protocol_error("the credentials could not be sent");
    auto ok = co_await socks_step(up, timeout, [](auto b) { return socks::parse_auth_reply(b); });
    if (ok.status != socks::Status::done || !ok.value) co_return protocol_error("it refused the user name or password");
  } else if (method.value != socks::kNoAuth) {
    co_return protocol_error(method.value == socks::kNoAcceptable ? "it wants credentials the --parent URL does not have" : "it chose a method not offered");
  }
  auto request = socks::client_connect(host, port);
  if (!request) co_return protocol_error(request.error());
  if (!co_await send_bytes(up, *request, timeout)) co_return protocol_error("the CONNECT could not be sent");
  auto reply = co_await socks_step(up, timeout, [](auto b) { return socks::parse_reply(b); });
  if (reply.status != socks::Status::done) co_return protocol_error("no answer to CONNECT " + target);
  if (reply.value.code != socks::Reply::succeeded)
    co_return protocol_error("CONNECT " + target + ": " + std::string(socks::reply_name(reply.value.code)));
  up.stream.expires_never();
  co_return dialed;
}

}  // namespace edge::proxy
