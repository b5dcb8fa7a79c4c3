// The request rules a proxy holds clients to: the head scanner on raw bytes, Host syntax,
// and the normalisation of a parsed head (absolute-form, Host, framing).
#include <doctest/doctest.h>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/http/request_rules.h"
#include "core/http/syntax.h"

using namespace edge;
namespace bhttp = boost::beast::http;

namespace {

// Scans `bytes` in one go, and again one byte at a time: both must agree.
http::HeadProblem scan(std::string_view bytes, size_t* length = nullptr) {
  http::HeadScanner whole;
  auto p = whole.scan(bytes);
  http::HeadScanner bytewise;
  http::HeadProblem q;
  for (size_t i = 1; i <= bytes.size() && !q; ++i) q = bytewise.scan(bytes.substr(0, i));
  CHECK(p.status == q.status);
  CHECK(whole.length() == bytewise.length());
  if (length) *length = whole.length();
  return p;
}

bool refused_with(std::string_view bytes, unsigned status, std::string_view words) {
  auto p = scan(bytes);
  INFO(bytes, " -> ", p.status, " ", p.what);
  return p.status == status && p.what.find(words) != std::string::npos;
}

}  // namespace

TEST_CASE("a good head is found whole, with empty lines before it skipped") {
  size_t n = 0;
  CHECK_FALSE(scan("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", &n));
  CHECK(n == 27);
  http::HeadScanner lead;
  CHECK_FALSE(lead.scan("\r\n\r\nGET / HTTP/1.0\r\n\r\n"));
  CHECK(lead.leading() == 4);
  CHECK_FALSE(scan("\r\nGET /x?y HTTP/1.0\r\n\r\n", &n));
  CHECK(n == 23);
  CHECK_FALSE(scan("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"));
  CHECK_FALSE(scan("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"));
  // A prefix of a good head is no problem, and not yet a head.
  http::HeadScanner s;
  CHECK_FALSE(s.scan("GET / HTTP/1.1\r\nHost: a\r\n"));
  CHECK(s.length() == 0);
}

TEST_CASE("what is not HTTP/1.x is refused at once, not after the header timeout") {
  CHECK(refused_with("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "TLS handshake"));
  CHECK(refused_with("GET /\r\n", 400, "HTTP/0.9"));
  CHECK(refused_with("\x01\x02\x03", 400, "not an HTTP request"));
  CHECK(refused_with("G\xc3\xa9T / HTTP/1.1\r\n", 400, "not a token"));
  CHECK(refused_with("GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF"));
  CHECK(refused_with("GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bare LF"));
  CHECK(refused_with("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, "bare CR"));
  CHECK(refused_with("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold"));
  CHECK(refused_with("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "obs-fold"));
  CHECK(refused_with(std::string_view("GET / HTTP/1.1\r\nX: \0\r\n\r\n", 23), 400, "NUL"));
  CHECK(refused_with("GET  / HTTP/1.1\r\n", 400, "no request target"));
  CHECK(refused_with("GET /a\x01 HTTP/1.1\r\n", 400, "control byte"));
  CHECK(refused_with("GET / HTTX/1.1\r\n", 400, "HTTP version"));
  CHECK(refused_with("GET / HTTP/1.10\r\n", 400, "HTTP version"));
  CHECK(refused_with("GET / HTTP/1.1 \r\n", 400, "HTTP version"));
  CHECK(refused_with("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP/2"));
  CHECK(refused_with("GET / HTTP/3.0\r\n", 505, "HTTP/3"));
  CHECK(refused_with(std::string(40, 'G') + " / HTTP/1.1\r\n", 400, "longer than 32"));
  CHECK(refused_with("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n", 400, "empty lines"));
}

TEST_CASE("Host syntax") {
  CHECK(http::host_problem("example.com") == "");
  CHECK(http::host_problem("example.com:8080") == "");
  CHECK(http::host_problem("127.0.0.1:80") == "");
  CHECK(http::host_problem("[::1]:443") == "");
  CHECK(http::host_problem("") == "");
  CHECK(http::host_problem("a b/c") != "");
  CHECK(http::host_problem("a/b") != "");
  CHECK(http::host_problem("user@host") != "");
  CHECK(http::host_problem("host:99999") != "");
  CHECK(http::host_problem("host:8x") != "");
  CHECK(http::host_problem("[::1") != "");
}

TEST_CASE("tokens and field values") {
  CHECK(http::is_token("X-Custom"));
  CHECK_FALSE(http::is_token(""));
  CHECK_FALSE(http::is_token("X Custom"));
  CHECK_FALSE(http::is_token("X:"));
  CHECK(http::is_field_value("a b\tc \xe2\x9c\x93"));
  CHECK_FALSE(http::is_field_value("a\r\nX-Injected: 1"));
  CHECK_FALSE(http::is_field_value(std::string_view("a\0b", 3)));
  CHECK_FALSE(http::is_field_value("\x1b]0;title\x07"));
}

namespace {

http::RequestHead head(bhttp::verb m, std::string_view target, unsigned version,
                             std::initializer_list<std::pair<const char*, const char*>> fields) {
  http::RequestHead h;
  h.method(m);
  h.target(target);
  h.version(version);
  for (auto& [k, v] : fields) h.insert(k, v);
  return h;
}

std::string refusal(http::RequestHead h) {
  auto r = http::normalize_request(h);
  return r ? std::to_string(r->status) + " " + r->cause + ": " + r->details : "";
}

}  // namespace

TEST_CASE("Host: exactly one, valid, required in HTTP/1.1") {
  CHECK(refusal(head(bhttp::verb::get, "/", 11, {{"Host", "a"}})) == "");
  CHECK(refusal(head(bhttp::verb::get, "/", 10, {})) == "");
  CHECK(refusal(head(bhttp::verb::get, "/", 11, {})).rfind("400 bad_host", 0) == 0);
  CHECK(refusal(head(bhttp::verb::get, "/", 11, {{"Host", "a"}, {"Host", "a"}})).rfind("400 bad_host", 0) == 0);
  CHECK(refusal(head(bhttp::verb::get, "/", 11, {{"Host", "a"}, {"Host", "b"}})).rfind("400 bad_host", 0) == 0);
  CHECK(refusal(head(bhttp::verb::get, "/", 11, {{"Host", "a b/c"}})).rfind("400 bad_host", 0) == 0);
}

TEST_CASE("absolute-form: the target's authority wins, the backend gets origin-form") {
  auto h = head(bhttp::verb::get, "http://other:8080/x?q=1", 11, {{"Host", "good"}});
  CHECK_FALSE(http::normalize_request(h));
  CHECK(h.target() == "/x?q=1");
  CHECK(h.count(bhttp::field::host) == 1);
  CHECK(h[bhttp::field::host] == "other:8080");
  auto bare = head(bhttp::verb::get, "HTTP://other", 10, {});
  CHECK_FALSE(http::normalize_request(bare));
  CHECK(bare.target() == "/");
  CHECK(bare[bhttp::field::host] == "other");
  // Two Host lines stay refused even when the target would overwrite them.
  CHECK(refusal(head(bhttp::verb::get, "http://o/", 11, {{"Host", "a"}, {"Host", "b"}})).rfind("400 bad_host", 0) == 0);
  CHECK(refusal(head(bhttp::verb::get, "ftp://o/", 11, {{"Host", "a"}})).rfind("400 bad_target", 0) == 0);
  CHECK(refusal(head(bhttp::verb::get, "http://u@o/", 11, {{"Host", "a"}})).rfind("400 bad_target", 0) == 0);
  CHECK(refusal(head(bhttp::verb::get, "o:80", 11, {{"Host", "a"}})).rfind("400 bad_target", 0) == 0);
  CHECK(refusal(head(bhttp::verb::get, "*", 11, {{"Host", "a"}})).rfind("400 bad_target", 0) == 0);
  CHECK(refusal(head(bhttp::verb::options, "*", 11, {{"Host", "a"}})) == "");
}

TEST_CASE("CONNECT is refused by a reverse proxy") {
  CHECK(refusal(head(bhttp::verb::connect, "example.com:443", 11, {{"Host", "example.com:443"}})).rfind("405 connect_refused", 0) == 0);
}

TEST_CASE("framing: one Content-Length value goes on; ambiguity is refused") {
  auto listed = head(bhttp::verb::post, "/", 11, {{"Host", "a"}, {"Content-Length", "5, 5"}});
  CHECK_FALSE(http::normalize_request(listed));
  CHECK(listed.count(bhttp::field::content_length) == 1);
  CHECK(listed[bhttp::field::content_length] == "5");
  auto repeated = head(bhttp::verb::post, "/", 11, {{"Host", "a"}, {"Content-Length", "5"}, {"Content-Length", "5"}});
  CHECK_FALSE(http::normalize_request(repeated));
  CHECK(repeated.count(bhttp::field::content_length) == 1);
  CHECK(repeated[bhttp::field::content_length] == "5");
  CHECK(refusal(head(bhttp::verb::post, "/", 11, {{"Host", "a"}, {"Content-Length", "5, 6"}})).rfind("400 ambiguous_framing", 0) == 0);
  CHECK(refusal(head(bhttp::verb::post, "/", 11, {{"Host", "a"}, {"Content-Length", "5,,5"}})).rfind("400 ambiguous_framing", 0) == 0);
  CHECK(refusal(head(bhttp::verb::post, "/", 10, {{"Transfer-Encoding", "chunked"}})).rfind("400 ambiguous_framing", 0) == 0);
  CHECK(refusal(head(bhttp::verb::post, "/", 11, {{"Host", "a"}, {"Transfer-Encoding", "chunked"}})) == "");
  CHECK(refusal(head(bhttp::verb::post, "/", 11, {{"Host", "a"}, {"X-A", "b\x01"}})).rfind("400 ambiguous_framing", 0) == 0);
}

TEST_CASE("ambiguous framing is refused") {
  auto problem = [](std::initializer_list<std::pair<const char*, const char*>> fields) {
    http::Fields h;
    for (auto& [k, v] : fields) h.insert(k, v);
    return http::framing_problem(h);
  };
  CHECK(problem({{"Content-Length", "5"}}) == "");
  CHECK(problem({{"Transfer-Encoding", "chunked"}}) == "");
  CHECK(problem({{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}) != "");
  CHECK(problem({{"Transfer-Encoding", "gzip, chunked"}}) != "");
  CHECK(problem({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}) != "");
  CHECK(problem({{"Transfer-Encoding", "identity"}}) != "");
  CHECK(problem({{"Content-Length", "5"}, {"Content-Length", "6"}}) != "");
  CHECK(problem({{"Content-Length", "5, 5"}}) == "");
  CHECK(problem({{"Content-Length", "5, 6"}}) != "");
  CHECK(problem({{"Content-Length", "-1"}}) != "");
}
