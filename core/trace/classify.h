// The classifier of `edge trace`: pure functions from what a probe observed to a cause from
// the fixed vocabulary (core/trace/causes.h). An empty cause means the layer passed. No I/O
// here, so every rule has a unit test.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/errqueue.h"

namespace edge::trace {

// dns: getaddrinfo's result and, when a direct query was made, the response codes seen.
struct DnsObservation {
  int gai_error = 0;                 // 0 = addresses found
  std::vector<int> rcodes;           // one per server that answered (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED)
  bool any_server_timed_out = false;
  bool family_missing = false;       // the name resolved, but not in the family asked for (-4/-6)
  bool truncated_tcp_failed = false; // a UDP answer came back truncated (TC) and the TCP retry failed
};
std::string_view classify_dns(const DnsObservation& o);

// route: the errno of the kernel's route lookup (rtnetlink RTM_GETROUTE), and the next hop's
// neighbour state when one was needed.
std::string_view classify_route(int route_errno, bool neighbour_failed);

struct TcpObservation {
  int connect_errno = 0;                    // connect() failed at once (not EINPROGRESS)
  int so_error = 0;                         // SO_ERROR after the wait
  bool timed_out = false;                   // no answer within the SYN budget
  std::optional<IcmpError> icmp;            // from the error queue
  std::optional<bool> syn_left;             // seen on the egress interface (pcap); nullopt = not checked
  std::optional<uint64_t> conntrack_drops;  // rise of this host's conntrack drop counter during the probe
  std::optional<uint64_t> conntrack_insert_failed;  // rise of its insert_failed counter (a NAT tuple clash)
};
std::string_view classify_tcp(const TcpObservation& o);

struct TlsObservation {
  bool timed_out = false;
  bool not_tls = false;                // the peer answered, but not with TLS records
  bool handshake_failed = false;       // an alert, or the connection closed during the handshake
  std::vector<int> verify_errors;      // X509_V_ERR_* collected over the whole chain
  bool reset = false;                  // the peer reset or closed the connection mid-handshake
  bool cert_requested = false;         // the server sent a CertificateRequest
  bool cert_sent = false;              // and a client certificate (--cert) answered it
  int alert = -1;                      // the alert received (TLS AlertDescription), -1 = none
};
std::string_view classify_tls(const TlsObservation& o);

std::string_view classify_http_status(unsigned status);

// A response body read to its end (--body, --mtu): how the reading ended.
struct BodyObservation {
  bool complete = false;   // its Content-Length, its final chunk, or the close that delimits it
  bool truncated = false;  // the connection ended (close, reset) before that
  bool stalled = false;    // nothing arrived for a whole --timeout
};
std::string_view classify_body(const BodyObservation& o);
// -L/--follow: the redirect to `next` after the URLs `seen` (the first one included), when at
// most `max` redirects may be followed: a URL seen before, or one redirect too many, is a loop.
std::string_view classify_redirect(const std::vector<std::string>& seen, const std::string& next, int max);

// The response to CONNECT (or to an absolute-form request the proxy itself answered).
std::string_view classify_proxy_status(unsigned status);

}  // namespace edge::trace
