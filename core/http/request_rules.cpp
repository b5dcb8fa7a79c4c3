// Request checks and normalisation for proxies.
#include "core/http/request_rules.h"

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/http/syntax.h"

namespace edge::http {
namespace bhttp = boost::beast::http;

namespace {

// The comma-separated elements of a list-valued field (RFC 9110 5.6.1), trimmed, in order;
// empty elements kept (as "") so that "5,,5" is not silently read as "5,5".
std::vector<std::string> elements(std::string_view list) {
  std::vector<std::string> out;
  while (true) {
    const auto comma = list.find(',');
    out.emplace_back(trim_ows(list.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    list.remove_prefix(comma + 1);
  }
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower((unsigned char)c));
  return s;
}

Refusal refuse(std::string details, std::string cause, unsigned status = 400) { return {status, std::move(details), std::move(cause)}; }

// absolute-form -> origin-form, Host from the authority. Returns a refusal when the target
// is neither form.
std::optional<Refusal> to_origin_form(RequestHead& req) {
  const std::string_view target = req.target();
  if (!target.empty() && target.front() == '/') return std::nullopt;
  if (target == "*") {
    if (req.method() == bhttp::verb::options) return std::nullopt;
    return refuse("'*' is a target for OPTIONS only", "bad_target");
  }
  auto u = boost::urls::parse_absolute_uri(target);
  if (!u) return refuse("the request target is neither a path nor an absolute URI", "bad_target");
  const std::string scheme = lower(std::string(u->scheme()));
  if (scheme != "http" && scheme != "https") return refuse("an absolute URI with scheme '" + scheme + "' (http and https are proxied)", "bad_target");
  if (!u->has_authority() || u->encoded_host().empty()) return refuse("an absolute URI without a host", "bad_target");
  if (u->has_userinfo()) return refuse("an absolute URI with userinfo", "bad_target");
  std::string origin(u->encoded_path());
  if (origin.empty()) origin = "/";
  if (u->has_query()) origin.append("?").append(u->encoded_query());
  req.set(bhttp::field::host, u->encoded_host_and_port());
  req.target(origin);
  return std::nullopt;
}

}  // namespace

std::string framing_problem(const Fields& h) {
  const bool has_cl = h.count(bhttp::field::content_length) > 0;
  const bool has_te = h.count(bhttp::field::transfer_encoding) > 0;
  if (has_cl && has_te) return "both Content-Length and Transfer-Encoding";
  if (has_cl) {
    std::string first;
    for (const auto& f : h) {
      if (f.name() != bhttp::field::content_length) continue;
      for (auto& v : elements(f.value())) {
        if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit((unsigned char)c); }))
          return "a Content-Length that is not a number";
        if (first.empty()) first = v;
        else if (v != first) return "differing Content-Length values";
      }
    }
  }
  if (has_te) {
    std::vector<std::string> codings;
    for (const auto& f : h)
      if (f.name() == bhttp::field::transfer_encoding)
        for (auto& t : elements(f.value()))
          if (!t.empty()) codings.push_back(lower(t));
    // Only "chunked", once, last: anything else could be read differently by the backend.
    if (codings.size() != 1 || codings.back() != "chunked") return "a Transfer-Encoding other than a single 'chunked'";
  }
  for (const auto& f : h) {
    if (!is_token(f.name_string())) return "a header name that is not a token";
    if (!is_field_value(f.value())) return "a control byte in a header value";
  }
  return "";
}

std::optional<Refusal> normalize_request(RequestHead& req) {
  if (req.method() == bhttp::verb::connect) return refuse("CONNECT is not served by a reverse proxy", "connect_refused", 405);
  if (req.count(bhttp::field::host) > 1) return refuse("more than one Host header", "bad_host");
  if (auto r = to_origin_form(req)) return r;
  if (req.version() >= 11 && req.count(bhttp::field::host) == 0) return refuse("an HTTP/1.1 request without Host", "bad_host");
  if (auto p = host_problem(req[bhttp::field::host]); !p.empty()) return refuse("the Host header " + p, "bad_host");
  if (auto p = framing_problem(req); !p.empty()) return refuse("ambiguous request framing: " + p, "ambiguous_framing");
  if (req.version() < 11 && req.count(bhttp::field::transfer_encoding))
    return refuse("Transfer-Encoding in an HTTP/1.0 request", "ambiguous_framing");
  // "5, 5" or two lines of 5: one value (framing_problem has checked they agree).
  if (auto it = req.find(bhttp::field::content_length); it != req.end()) {
    const std::string value = elements(it->value()).front();
    if (req.count(bhttp::field::content_length) > 1 || value != it->value()) req.set(bhttp::field::content_length, value);
  }
  return std::nullopt;
}

}  // namespace edge::http
