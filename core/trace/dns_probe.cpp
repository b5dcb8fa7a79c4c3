// getaddrinfo on its own thread (it has no deadline of its own) raced against the layer
// timeout, while c-ares asks each nameserver of resolv.conf directly, one channel per server,
// with ARES_FLAG_NOCHECKRESP so SERVFAIL and REFUSED come back as answers instead of being
// retried away, and ARES_FLAG_IGNTC so a truncated UDP answer is seen as such: the retry over
// TCP to the same server is then made by hand and reported on its own.
#include "core/trace/dns_probe.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/select.h>

#include <boost/json/array.hpp>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <future>
#include <memory>
#include <thread>

#include "core/trace/classify.h"

namespace edge::trace {
namespace json = boost::json;
namespace {

struct GaiResult {
  int error = 0;
  std::vector<IpAddr> addrs;
  std::string canonical;  // the name that answered: after the search list, or /etc/hosts' first name
};

// Runs getaddrinfo without letting it hold the trace past its deadline: the thread is detached
// and owns its state, so a late answer is simply dropped.
std::optional<GaiResult> getaddrinfo_with_deadline(const std::string& host, Millis timeout) {
  auto promise = std::make_shared<std::promise<GaiResult>>();
  auto future = promise->get_future();
  std::thread([host, promise] {
    GaiResult r;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_CANONNAME;
    addrinfo* res = nullptr;
    r.error = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (res && res->ai_canonname) r.canonical = res->ai_canonname;
    for (addrinfo* a = res; a; a = a->ai_next) {
      if (a->ai_family == AF_INET)
        r.addrs.push_back(IpAddr::from_bytes(Family::v4, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr));
      else if (a->ai_family == AF_INET6)
        r.addrs.push_back(IpAddr::from_bytes(Family::v6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr));
    }
    if (res) freeaddrinfo(res);
    promise->set_value(std::move(r));
  }).detach();
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

const char* rcode_name(int rcode) {
  switch (rcode) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "OTHER";
  }
}

struct Query {
  std::string server;
  std::string name;
  int type = 0;  // 1 = A, 28 = AAAA
  bool done = false, timed_out = false;
  int rcode = -1;
  std::vector<IpAddr> answers;
  std::string error;
  std::chrono::steady_clock::time_point start;
  double ms = 0;
  bool truncated = false;           // the UDP answer had TC set; what follows is the TCP retry's
  ares_channel tcp = nullptr;       // the channel for that retry (same server, ARES_FLAG_USEVC)
};

void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* q = static_cast<Query*>(arg);
  if (!q->truncated && abuf && alen >= 12 && (abuf[2] & 0x02) && q->tcp) {
    // TC: the answer did not fit in UDP. Ask the same server over TCP, as a resolver would.
    q->truncated = true;
    ares_query(q->tcp, q->name.c_str(), 1 /* IN */, q->type, on_answer, q);
    return;
  }
  q->done = true;
  q->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - q->start).count();
  if (status == ARES_ETIMEOUT) {
    q->timed_out = true;
    return;
  }
  if (!abuf || alen < 12) {
    q->error = ares_strerror(status);
    return;
  }
  q->rcode = abuf[3] & 0x0f;
  if (q->type == 1) {
    ares_addrttl a[32];
    int n = 32;
    if (ares_parse_a_reply(abuf, alen, nullptr, a, &n) == ARES_SUCCESS)
      for (int i = 0; i < n; ++i) q->answers.push_back(IpAddr::from_bytes(Family::v4, &a[i].ipaddr));
  } else {
    ares_addr6ttl a[32];
    int n = 32;
    if (ares_parse_aaaa_reply(abuf, alen, nullptr, a, &n) == ARES_SUCCESS)
      for (int i = 0; i < n; ++i) q->answers.push_back(IpAddr::from_bytes(Family::v6, &a[i].ip6addr));
  }
}

struct Channel {
  ares_channel ch = nullptr;
  ~Channel() {
    if (ch) ares_destroy(ch);
  }
};

// Asks every nameserver for A and AAAA at once; returns when all answered or time is up.
// `settled` says when the system resolver has finished: its answer (or failure) is the
// verdict's basis, so the direct queries get only a short grace period after it.
std::vector<std::unique_ptr<Query>> query_servers(const std::string& host, Millis timeout, const std::function<bool()>& settled,
                                                  std::string& setup_error) {
  std::vector<std::unique_ptr<Query>> queries;
  static const int init = ares_library_init(ARES_LIB_INIT_ALL);
  if (init != ARES_SUCCESS) {
    setup_error = ares_strerror(init);
    return queries;
  }
  // resolv.conf's own timeout and attempts stay in force (they are what the system resolver
  // waits); the layer's deadline below cuts everything off in any case.
  ares_options opts{};
  opts.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_IGNTC;
  ares_options tcp_opts{};
  tcp_opts.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_USEVC;
  const int mask = ARES_OPT_FLAGS;
  Channel probe;
  if (int r = ares_init_options(&probe.ch, &opts, mask); r != ARES_SUCCESS) {
    setup_error = ares_strerror(r);
    return queries;
  }
  ares_addr_port_node* servers = nullptr;
  ares_get_servers_ports(probe.ch, &servers);
  std::vector<std::unique_ptr<Channel>> channels;
  for (ares_addr_port_node* s = servers; s; s = s->next) {
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(s->family, &s->addr, text, sizeof text);
    auto c = std::make_unique<Channel>();
    auto tcp = std::make_unique<Channel>();
    if (ares_init_options(&c->ch, &opts, mask) != ARES_SUCCESS || ares_init_options(&tcp->ch, &tcp_opts, mask) != ARES_SUCCESS) continue;
    ares_addr_port_node one = *s;
    one.next = nullptr;
    ares_set_servers_ports(c->ch, &one);
    ares_set_servers_ports(tcp->ch, &one);
    for (int type : {1, 28}) {
      auto q = std::make_unique<Query>();
      q->server = text;
      q->name = host;
      q->type = type;
      q->tcp = tcp->ch;
      q->start = std::chrono::steady_clock::now();
      ares_query(c->ch, host.c_str(), 1 /* IN */, type, on_answer, q.get());
      queries.push_back(std::move(q));
    }
    channels.push_back(std::move(c));
    channels.push_back(std::move(tcp));
  }
  if (servers) ares_free_data(servers);

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto all_done = [&] { return std::all_of(queries.begin(), queries.end(), [](auto& q) { return q->done; }); };
  std::optional<std::chrono::steady_clock::time_point> grace_end;
  while (std::chrono::steady_clock::now() < deadline && !all_done()) {
    if (!grace_end && settled()) grace_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    if (grace_end && std::chrono::steady_clock::now() >= *grace_end) break;
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    int nfds = 0;
    for (auto& c : channels) nfds = std::max(nfds, ares_fds(c->ch, &r, &w));
    if (nfds == 0) break;
    timeval tv{0, 50'000};  // wake often enough to honour our own deadline
    select(nfds, &r, &w, nullptr, &tv);
    for (auto& c : channels) ares_process(c->ch, &r, &w);
  }
  for (auto& q : queries) {
    if (!q->done) q->timed_out = true;
    q->tcp = nullptr;  // the channels go now: their callbacks (ARES_EDESTRUCTION) must not retry
  }
  return queries;  // channels (and their pending queries) are destroyed here
}

json::array addr_list(const std::vector<IpAddr>& v) {
  json::array a;
  for (auto& x : v) a.emplace_back(x.str());
  return a;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::string read_file(const char* path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

std::vector<IpAddr> hosts_addresses(std::string_view hosts, std::string_view name) {
  std::vector<IpAddr> out;
  const std::string want = lower(name);
  std::istringstream in{std::string(hosts)};
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string addr, n;
    if (!(words >> addr)) continue;
    auto a = IpAddr::parse(addr);
    if (!a) continue;
    while (words >> n)
      if (lower(n) == want) {
        if (std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
        break;
      }
  }
  return out;
}

LayerResult probe_dns(const std::string& host, std::optional<Family> only, Millis timeout, DnsAnswer& out) {
  LayerClock clock;
  LayerResult r;
  r.name = "dns";
  std::string setup_error;
  // Start the direct queries and the system resolver together: both are bounded by `timeout`.
  auto gai_future = std::async(std::launch::async, [&] { return getaddrinfo_with_deadline(host, timeout); });
  auto queries = query_servers(
      host, timeout, [&] { return gai_future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }, setup_error);
  auto gai = gai_future.get();

  DnsObservation obs;
  json::object system;
  if (!gai) {
    obs.gai_error = EAI_AGAIN;
    system["error"] = "no answer in time";
  } else {
    obs.gai_error = gai->error;
    for (auto& a : gai->addrs) (a.family() == Family::v4 ? out.v4 : out.v6).push_back(a);
    if (gai->error) system["error"] = gai_strerror(gai->error);
  }
  // getaddrinfo lists an address once per socket type asked; SOCK_STREAM keeps it to one, but
  // /etc/hosts can still repeat: keep the order, drop repeats.
  for (auto* v : {&out.v4, &out.v6}) {
    std::vector<IpAddr> uniq;
    for (auto& a : *v)
      if (std::find(uniq.begin(), uniq.end(), a) == uniq.end()) uniq.push_back(a);
    *v = uniq;
  }
  system["ipv4"] = addr_list(out.v4);
  system["ipv6"] = addr_list(out.v6);
  // The name getaddrinfo settled on: `api` may have become `api.corp.example` by the search list.
  if (gai && !gai->canonical.empty() && lower(gai->canonical) != lower(host)) system["name"] = gai->canonical;
  // Where the answer came from: /etc/hosts wins over DNS when nsswitch says "files dns".
  const std::vector<IpAddr> in_hosts = hosts_addresses(read_file("/etc/hosts"), host);
  system["source"] = in_hosts.empty() ? "dns" : "/etc/hosts";
  if (!in_hosts.empty()) system["hosts"] = addr_list(in_hosts);
  r.evidence["system"] = std::move(system);

  json::array servers;
  for (auto& q : queries) {
    json::object s;
    s["server"] = q->server;
    s["type"] = q->type == 1 ? "A" : "AAAA";
    const bool wanted = !only || (*only == Family::v4) == (q->type == 1);
    if (q->truncated) {
      // What follows describes the TCP retry; the UDP answer only said "truncated".
      s["truncated"] = true;
      s["retry"] = "tcp";
      if (wanted && q->rcode < 0) obs.truncated_tcp_failed = true;
    }
    if (q->timed_out) {
      s["rcode"] = nullptr;
      s["error"] = "timeout";
      obs.any_server_timed_out = true;
    } else if (q->rcode >= 0) {
      s["rcode"] = rcode_name(q->rcode);
      s["answers"] = addr_list(q->answers);
      s["ms"] = std::round(q->ms * 100) / 100;
      // The rcode that explains a failure is the one for the family the trace follows.
      if (wanted) obs.rcodes.push_back(q->rcode);
    } else {
      s["error"] = q->error;
    }
    servers.push_back(std::move(s));
  }
  r.evidence["servers"] = std::move(servers);
  if (!setup_error.empty()) r.evidence["direct_query_error"] = setup_error;

  // /etc/hosts and the nameservers disagree: what this host uses is not what DNS says (a
  // forgotten test entry, a migration half done).
  if (!in_hosts.empty()) {
    std::vector<IpAddr> from_dns;
    std::string dns_server;
    for (auto& q : queries)
      for (auto& a : q->answers) {
        const bool same_family = std::any_of(in_hosts.begin(), in_hosts.end(), [&](const IpAddr& h) { return h.family() == a.family(); });
        if (same_family && std::find(from_dns.begin(), from_dns.end(), a) == from_dns.end()) {
          from_dns.push_back(a);
          dns_server = q->server;
        }
      }
    const bool overlap = std::any_of(from_dns.begin(), from_dns.end(),
                                     [&](const IpAddr& a) { return std::find(in_hosts.begin(), in_hosts.end(), a) != in_hosts.end(); });
    if (!from_dns.empty() && !overlap) {
      std::string h, d;
      for (auto& a : in_hosts) h += (h.empty() ? "" : ", ") + a.str();
      for (auto& a : from_dns) d += (d.empty() ? "" : ", ") + a.str();
      r.warnings.emplace_back("hosts_override", "/etc/hosts says " + host + " is " + h + ", but the nameserver " + dns_server + " says " + d +
                                                    ": this host does not use what DNS says");
    }
  }

  if (obs.gai_error == 0 && only) obs.family_missing = (*only == Family::v4 ? out.v4 : out.v6).empty();
  if (obs.gai_error == 0 && !only) obs.family_missing = out.v4.empty() && out.v6.empty();
  r.duration_ms = clock.elapsed_ms();
  const std::string_view cause = classify_dns(obs);
  if (cause.empty()) {
    r.status = Status::ok;
    r.summary = host;
    if (gai && !gai->canonical.empty() && lower(gai->canonical) != lower(host)) r.summary += " (resolved as " + gai->canonical + ")";
    r.summary += ":";
    if (!out.v4.empty()) r.summary += " A " + out.v4.front().str() + (out.v4.size() > 1 ? " (+" + std::to_string(out.v4.size() - 1) + ")" : "");
    else r.summary += " no A";
    if (!out.v6.empty()) r.summary += ", AAAA " + out.v6.front().str() + (out.v6.size() > 1 ? " (+" + std::to_string(out.v6.size() - 1) + ")" : "");
    else r.summary += ", no AAAA";
    if (!in_hosts.empty()) r.summary += " (from /etc/hosts)";
    return r;
  }
  std::string who, tcp_error;
  for (auto& q : queries) {
    if (q->rcode > 0 || q->timed_out) who = q->server;
    if (q->truncated && q->rcode < 0 && cause == "truncated") {
      who = q->server;
      tcp_error = q->timed_out ? "no answer in time" : q->error;
    }
  }
  std::string detail;
  if (cause == "nxdomain") detail = host + " does not exist (NXDOMAIN" + (who.empty() ? "" : " from " + who) + ")";
  else if (cause == "servfail") detail = "the resolver failed for " + host + " (SERVFAIL" + (who.empty() ? "" : " from " + who) + ")";
  else if (cause == "refused") detail = "the resolver refused the query for " + host + " (REFUSED" + (who.empty() ? "" : " from " + who) + ")";
  else if (cause == "nodata")
    detail = host + " has no " + (only ? (*only == Family::v4 ? "IPv4 (A)" : "IPv6 (AAAA)") : std::string("address")) + " record";
  else if (cause == "truncated")
    detail = "the UDP answer from " + who + " for " + host + " was truncated (TC) and the TCP retry to " + who + " port 53 failed: " + tcp_error +
             " (is 53/tcp blocked or not served?)";
  else if (cause == "timeout")
    detail = "no nameserver answered for " + host + " within " + format_duration(Millis(int64_t(r.duration_ms))) +
             (who.empty() ? "" : " (asked " + who + ")");
  else detail = std::string("resolving ") + host + " failed: " + (gai && gai->error ? gai_strerror(gai->error) : "unknown error");
  return fail(std::move(r), std::string(cause), detail);
}

}  // namespace edge::trace
