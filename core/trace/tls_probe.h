// The tls layer of `edge trace`: a handshake with SNI and ALPN that collects every
// verification error over the whole chain (not only the first), and reports the certificate:
// subject, issuer, validity and days to expiry.
#pragma once
#include <optional>
#include <string>

#include "core/base/duration.h"
#include "core/trace/layer.h"
#include "core/trace/stream.h"

namespace edge::trace {

struct TlsOptions {
  std::string host;    // for SNI and the name check
  bool host_is_ip = false;
  std::string cafile;  // --cacert; empty: the system store (and SSL_CERT_FILE / SSL_CERT_DIR)
  bool alpn_http = false;
  std::string cert, key;  // --cert / --key: a client certificate for servers that ask for one
};

// Why --cert/--key cannot be used (unreadable, not PEM, key not matching), or "".
std::string client_cert_problem(const std::string& cert, const std::string& key);

// On success (and on verification failures, which complete the handshake) the stream carries TLS.
LayerResult probe_tls(Stream& stream, const TlsOptions& o, Millis timeout);

}  // namespace edge::trace
