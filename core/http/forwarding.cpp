// Header rewriting for proxies.
#include "core/http/forwarding.h"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cctype>

namespace edge::http {
namespace bhttp = boost::beast::http;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = char(std::tolower((unsigned char)c));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> tokens(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto t = trim(list.substr(0, comma));
    if (!t.empty()) out.push_back(lower(t));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

// Headers a client must not be able to remove by naming them in Connection.
bool protected_header(const std::string& name) {
  return name == "content-length" || name == "transfer-encoding" || name == "host" || name == "forwarded" ||
         name == "via" || name.rfind("x-forwarded-", 0) == 0 || name == "x-real-ip";
}

}  // namespace

void strip_hop_by_hop(bhttp::fields& h, bool keep_upgrade) {
  std::vector<std::string> named;
  for (const auto& f : h)
    if (f.name() == bhttp::field::connection)
      for (auto& t : tokens(f.value())) named.push_back(t);
  for (auto& n : named)
    if (!protected_header(n) && !(keep_upgrade && n == "upgrade")) h.erase(n);
  h.erase(bhttp::field::connection);
  h.erase(bhttp::field::keep_alive);
  h.erase(bhttp::field::proxy_connection);
  h.erase(bhttp::field::proxy_authorization);
  h.erase(bhttp::field::te);
  h.erase(bhttp::field::trailer);
  if (!keep_upgrade) h.erase(bhttp::field::upgrade);
}

void add_forwarding(bhttp::fields& h, const ForwardingContext& ctx) {
  const std::string client = ctx.client.str();
  std::string xff;
  if (ctx.client_trusted) {
    // Combine every X-Forwarded-For line the trusted peer sent, then append the peer.
    for (const auto& f : h)
      if (lower(f.name_string()) == "x-forwarded-for") xff += (xff.empty() ? "" : ", ") + trim(f.value());
  }
  xff += (xff.empty() ? "" : ", ") + client;
  const std::string real_ip = ctx.client_trusted && h.count("x-real-ip") ? std::string(h["x-real-ip"]) : client;
  const std::string proto = ctx.client_trusted && h.count("x-forwarded-proto") ? std::string(h["x-forwarded-proto"]) : ctx.proto;
  const std::string host = ctx.client_trusted && h.count("x-forwarded-host") ? std::string(h["x-forwarded-host"]) : std::string(h[bhttp::field::host]);
  for (const char* name : {"x-forwarded-for", "x-real-ip", "x-forwarded-proto", "x-forwarded-host"}) h.erase(name);
  if (!ctx.client_trusted) h.erase(bhttp::field::forwarded);
  h.set("X-Forwarded-For", xff);
  h.set("X-Real-IP", real_ip);
  h.set("X-Forwarded-Proto", proto);
  if (!host.empty()) h.set("X-Forwarded-Host", host);
  std::string via;
  for (const auto& f : h)
    if (f.name() == bhttp::field::via) via += (via.empty() ? "" : ", ") + trim(f.value());
  h.set(bhttp::field::via, via.empty() ? ctx.via : via + ", " + ctx.via);
}

bool via_names(const bhttp::fields& h, std::string_view by) {
  for (const auto& f : h)
    if (f.name() == bhttp::field::via)
      for (auto& entry : tokens(f.value())) {
        // "1.1 edge-3f9a2c" or "HTTP/1.1 proxy.example:8080 (comment)": the second word is who received it.
        const auto words = std::string_view(entry);
        const auto sp = words.find(' ');
        if (sp == std::string_view::npos) continue;
        const auto rest = words.substr(sp + 1);
        if (rest.substr(0, rest.find(' ')) == lower(by)) return true;
      }
  return false;
}

}  // namespace edge::http
