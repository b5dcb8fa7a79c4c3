// --metrics for every engine on the core runtime: a listener that answers GET /metrics with
// Prometheus text (format 0.0.4) made by the engine at each scrape; one request per
// connection, 405 for other methods, 404 for other paths.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>

namespace edge::run {

// Serves until the acceptor closes. `command` names the engine in the 404's words.
boost::asio::awaitable<void> serve_metrics(boost::asio::ip::tcp::acceptor& acc, std::function<std::string()> text, std::string command);

// "# HELP name help\n# TYPE name type\n": the header of one metric family.
void metric_head(std::string& out, const char* name, const char* type, const char* help);

}  // namespace edge::run
