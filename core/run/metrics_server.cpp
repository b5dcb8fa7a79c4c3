// The Prometheus scrape endpoint (core/run/metrics_server.h).
#include "core/run/metrics_server.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace edge::run {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

asio::awaitable<void> session(tcp::socket sock, std::function<std::string()> text, std::string command) {
  beast::tcp_stream s(std::move(sock));
  beast::flat_buffer buf;
  bhttp::request<bhttp::empty_body> req;
  s.expires_after(std::chrono::seconds(10));
  auto [ec, n] = co_await bhttp::async_read(s, buf, req, nothrow);
  if (ec) co_return;
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::server, "edge");
  const std::string_view path = req.target().substr(0, req.target().find('?'));
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    res.result(bhttp::status::method_not_allowed);
    res.set(bhttp::field::allow, "GET, HEAD");
  } else if (path != "/metrics") {
    res.result(bhttp::status::not_found);
    res.body() = "edge " + command + " serves its metrics at /metrics\n";
  } else {
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = text();
  }
  res.keep_alive(false);
  res.prepare_payload();
  if (req.method() == bhttp::verb::head) res.body().clear();
  co_await bhttp::async_write(s, res, nothrow);
  s.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

asio::awaitable<void> serve_metrics(tcp::acceptor& acc, std::function<std::string()> text, std::string command) {
  while (true) {
    auto [ec, sock] = co_await acc.async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
    if (!ec) asio::co_spawn(acc.get_executor(), session(std::move(sock), text, command), asio::detached);
  }
}

void metric_head(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace edge::run
