// Header rewriting for proxies.
#include "core/http/forwarding.h"
#include "core/http/syntax.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cstdio>
#include <random>
#include <cctype>

namespace edge::http {
namespace bhttp = boost::beast::http;

namespace {

// Calls fn(token) for each non-empty element of a comma-separated list, trimmed (no copies).
template <class Fn>
void for_each_token(std::string_view list, Fn fn) {
  while (true) {
    const auto comma = list.find(',');
    if (auto t = trim_ows(list.substr(0, comma)); !t.empty()) fn(t);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

bool iequals(std::string_view a, std::string_view b) { return boost::beast::iequals(a, b); }

// Headers a client must not be able to remove by naming them in Connection.
bool protected_header(std::string_view name) {
  for (std::string_view p : {"content-length", "transfer-encoding", "host", "forwarded", "via", "x-real-ip", "connection"})
    if (iequals(name, p)) return true;
  return name.size() >= 12 && iequals(name.substr(0, 12), "x-forwarded-");
}

// The forwarding headers a client may not set itself (an untrusted peer's are dropped).
bool forwarding_claim(std::string_view name) {
  for (std::string_view n : {"x-forwarded-for", "x-real-ip", "x-forwarded-proto", "x-forwarded-host"})
    if (iequals(name, n)) return true;
  return false;
}

}  // namespace

std::string via_token() {
  char id[16];
  std::snprintf(id, sizeof id, "%08x", unsigned(std::random_device{}()));
  return std::string("edge-") + id;
}

void strip_hop_by_hop(Fields& h, bool keep_upgrade) {
  // Names the Connection lines list are erased first, while those lines (which the views
  // point into) stay; erasing other fields leaves their storage in place.
  for (const auto& f : h) {
    if (f.name() != bhttp::field::connection) continue;
    for_each_token(f.value(), [&](std::string_view t) {
      if (!protected_header(t) && !(keep_upgrade && iequals(t, "upgrade"))) h.erase(t);
    });
  }
  // The fixed list in one pass by the parser's field codes (most messages have none of them:
  // a lookup per name would cost more than the walk).
  for (auto it = h.begin(); it != h.end();) {
    switch (it->name()) {
      case bhttp::field::connection:
      case bhttp::field::keep_alive:
      case bhttp::field::proxy_connection:
      case bhttp::field::proxy_authorization:
      case bhttp::field::te:
      case bhttp::field::trailer:
        it = h.erase(it);
        continue;
      case bhttp::field::upgrade:
        if (!keep_upgrade) {
          it = h.erase(it);
          continue;
        }
        break;
      default:
        break;
    }
    ++it;
  }
}

void add_forwarding(Fields& h, const ForwardingContext& ctx) {
  const std::string client = ctx.client.str();
  // Appends each line of `name` (trimmed) to `out`, comma-separated.
  const auto joined = [&h](std::string_view name, std::string& out) {
    for (const auto& f : h)
      if (iequals(f.name_string(), name)) out.append(out.empty() ? "" : ", ").append(trim_ows(f.value()));
  };
  if (ctx.client_trusted) {
    // Combine every X-Forwarded-For line the trusted peer sent, then append the peer; keep
    // what it said of the client's address, scheme and host.
    std::string xff;
    joined("x-forwarded-for", xff);
    xff.append(xff.empty() ? "" : ", ").append(client);
    h.erase("x-forwarded-for");
    h.set("X-Forwarded-For", xff);
    if (!h.count("x-real-ip")) h.set("X-Real-IP", client);
    if (!h.count("x-forwarded-proto")) h.set("X-Forwarded-Proto", ctx.proto);
    if (!h.count("x-forwarded-host") && !h[bhttp::field::host].empty()) h.set("X-Forwarded-Host", h[bhttp::field::host]);
  } else {
    // What the client said of itself goes, in one pass; the fields are then known absent, so
    // they are inserted without set()'s lookup.
    std::string_view host;
    for (auto it = h.begin(); it != h.end();) {
      if (it->name() == bhttp::field::forwarded || (it->name() == bhttp::field::unknown && forwarding_claim(it->name_string()))) {
        it = h.erase(it);
        continue;
      }
      if (it->name() == bhttp::field::host) host = it->value();  // each field is its own block: the view stays valid
      ++it;
    }
    h.insert("X-Forwarded-For", client);
    h.insert("X-Real-IP", client);
    h.insert("X-Forwarded-Proto", ctx.proto);
    if (!host.empty()) h.insert("X-Forwarded-Host", host);
  }
  if (h.find(bhttp::field::via) == h.end()) {
    h.insert(bhttp::field::via, ctx.via);
  } else {
    std::string via;
    joined("via", via);
    h.set(bhttp::field::via, via.append(", ").append(ctx.via));
  }
}

bool via_names(const Fields& h, std::string_view by) {
  for (const auto& f : h)
    if (f.name() == bhttp::field::via)
      {
        bool found = false;
        for_each_token(f.value(), [&](std::string_view entry) {
          // "1.1 edge-3f9a2c" or "HTTP/1.1 proxy.example:8080 (comment)": the second word is who received it.
          const auto sp = entry.find(' ');
          if (sp == std::string_view::npos) return;
          const auto rest = entry.substr(sp + 1);
          found = found || iequals(rest.substr(0, rest.find(' ')), by);
        });
        if (found) return true;
      }
  return false;
}

}  // namespace edge::http
