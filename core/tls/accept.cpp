// TLS handshakes with clients, and goodbyes (core/tls/accept.h).
#include "core/tls/accept.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "core/tls/contexts.h"

namespace edge::tls {
namespace asio = boost::asio;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<Accepted> accept(Stream& client, asio::ssl::context& ctx, Millis timeout) {
  auto& t = client.start_tls(ctx);
  client.expires_after(timeout);
  auto [ec] = co_await client.async_handshake(asio::ssl::stream_base::server, nothrow);
  Accepted a;
  if (!ec) {
    a.ok = true;
    co_return a;
  }
  a.why = ec == boost::beast::error::timeout ? std::string("timeout") : handshake_error(t, ec);
  if (ec.category() == asio::error::get_ssl_category() && ERR_GET_REASON(ec.value()) == SSL_R_HTTP_REQUEST) {
    // Plain HTTP sent to the TLS port (nginx answers the same way): say so in plain HTTP.
    static constexpr std::string_view kPlain =
        "HTTP/1.1 400 Bad Request\r\nServer: edge\r\nProxy-Status: edge; error=http_request_error; details=\"plain HTTP sent to a TLS port\"\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 55\r\nConnection: close\r\n\r\n"
        "400 Bad Request: plain HTTP request sent to a TLS port\n";
    client.expires_after(std::chrono::seconds(5));
    co_await asio::async_write(client.socket(), asio::buffer(kPlain), nothrow);
    a.plain_http = true;
  }
  co_return a;
}

asio::awaitable<void> goodbye(Stream& s) {
  if (!s.tls()) co_return;
  s.expires_after(std::chrono::milliseconds(200));
  co_await s.tls()->async_shutdown(nothrow);
}

}  // namespace edge::tls
