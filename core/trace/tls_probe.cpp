// OpenSSL client handshake. The verify callback records each error and returns 1, so the
// handshake completes and the certificate can be described even when it is bad; the verdict
// is taken from the collected errors afterwards.
#include "core/trace/tls_probe.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <boost/json/array.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "core/trace/classify.h"

namespace edge::trace {
namespace {

struct VerifyError {
  int code;
  int depth;
  std::string subject;
};

struct Collected {
  std::vector<VerifyError> errors;
  std::string alert_received;
  int alert = -1;
  bool cert_requested = false;
  bool server_spoke = false;  // any handshake message arrived
  bool ticket = false;        // a NewSessionTicket arrived: TLS 1.3's server accepted us
};

int collected_index() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

std::string name_text(X509_NAME* n) {
  if (!n) return "";
  std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new(BIO_s_mem()), BIO_free);
  X509_NAME_print_ex(bio.get(), n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

int on_verify(int ok, X509_STORE_CTX* ctx) {
  if (!ok) {
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* c = static_cast<Collected*>(SSL_get_ex_data(ssl, collected_index()));
    if (!c) return 1;
    X509* cert = X509_STORE_CTX_get_current_cert(ctx);
    const int code = X509_STORE_CTX_get_error(ctx);
    const int depth = X509_STORE_CTX_get_error_depth(ctx);
    bool seen = false;
    for (auto& e : c->errors) seen = seen || (e.code == code && e.depth == depth);
    if (!seen) c->errors.push_back({code, depth, cert ? name_text(X509_get_subject_name(cert)) : ""});
  }
  return 1;  // keep going: collect every problem, decide afterwards
}

// OpenSSL 3.0 has no words for TLS 1.3's alerts (RFC 8446 6.2): "unknown".
std::string alert_name(int code) {
  switch (code) {
    case 109: return "missing extension";
    case 116: return "certificate required";
    case 120: return "no application protocol";
    default: return SSL_alert_desc_string_long(code);
  }
}

// Sees the handshake messages and alerts as they arrive (decrypted, in TLS 1.3 too): a
// CertificateRequest is how a server asks for a client certificate.
void on_message(int write_p, int /*version*/, int content_type, const void* buf, size_t len, SSL* ssl, void* /*arg*/) {
  auto* c = static_cast<Collected*>(SSL_get_ex_data(ssl, collected_index()));
  if (!c || write_p || len < 1) return;
  const auto* b = static_cast<const unsigned char*>(buf);
  if (content_type == SSL3_RT_HANDSHAKE) {
    c->server_spoke = true;
    if (b[0] == SSL3_MT_CERTIFICATE_REQUEST) c->cert_requested = true;
    if (b[0] == SSL3_MT_NEWSESSION_TICKET) c->ticket = true;
  } else if (content_type == SSL3_RT_ALERT && len >= 2) {
    c->alert = b[1];
    c->alert_received = alert_name(b[1]);
  }
}

std::string asn1_time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// Days from now to `t` (negative: in the past).
int days_from_now(const ASN1_TIME* t) {
  int days = 0, secs = 0;
  if (!t || ASN1_TIME_diff(&days, &secs, nullptr, t) != 1) return 0;
  return days;
}

bool looks_like_not_tls(unsigned long e) {
  const int reason = ERR_GET_REASON(e);
  return reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
         reason == SSL_R_RECORD_LENGTH_MISMATCH || reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST ||
         reason == SSL_R_UNKNOWN_PROTOCOL;
}

// Sets the client certificate and key on `ctx`; returns why not, or "".
std::string use_client_cert(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  auto why = [](const std::string& what) {
    char buf[256] = "";
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    return what + ": " + buf;
  };
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) return why("--cert " + cert + " holds no usable PEM certificate");
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) return why("--key " + key + " holds no usable PEM private key");
  if (SSL_CTX_check_private_key(ctx) != 1) return why("--key " + key + " does not match --cert " + cert);
  return "";
}

// The connection ended under the handshake: how, in words (errno 0 = an orderly close).
std::string ended_how(int err) { return err == 0 ? "closed" : err == ECONNRESET || err == EPIPE ? "reset" : std::strerror(err); }

}  // namespace

std::string client_cert_problem(const std::string& cert, const std::string& key) {
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  return use_client_cert(ctx.get(), cert, key);
}

LayerResult probe_tls(Stream& stream, const TlsOptions& o, Millis timeout) {
  LayerClock clock;
  LayerResult r;
  r.name = "tls";
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, on_verify);
  // Servers that close without close_notify are common; an EOF is then a clean end of the body.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (!o.cafile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), o.cafile.c_str(), nullptr) != 1)
      return fail(std::move(r), "untrusted_chain", "cannot load --cacert " + o.cafile);
    r.evidence["trust"] = o.cafile;
  } else {
    SSL_CTX_set_default_verify_paths(ctx.get());
    r.evidence["trust"] = "system store";
  }
  if (!o.cert.empty()) {
    if (std::string why = use_client_cert(ctx.get(), o.cert, o.key); !why.empty()) return fail(std::move(r), "handshake_failure", why);
  }
  SSL* ssl = SSL_new(ctx.get());
  Collected collected;
  SSL_set_ex_data(ssl, collected_index(), &collected);
  SSL_set_msg_callback(ssl, on_message);
  if (SSL* outer = stream.tls()) {
    // Inside TLS to an https:// proxy: this session's records travel in the outer session's.
    BIO* through = BIO_new(BIO_f_ssl());
    BIO_set_ssl(through, outer, BIO_NOCLOSE);
    SSL_set_bio(ssl, through, through);
  } else {
    SSL_set_fd(ssl, stream.fd());
  }
  if (!o.host_is_ip) {
    SSL_set_tlsext_host_name(ssl, o.host.c_str());
    SSL_set1_host(ssl, o.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), o.host.c_str());
  }
  if (o.alpn_http) {
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(ssl, alpn, sizeof alpn);
  }
  r.evidence["sni"] = o.host_is_ip ? boost::json::value(nullptr) : boost::json::value(o.host);

  TlsObservation obs;
  const auto deadline = Clock::now() + timeout;
  unsigned long ssl_err = 0;
  std::string ended;  // "reset" / "closed" when the peer hung up mid-handshake
  // Waits for `e` (WANT_READ/WANT_WRITE) until `until`; false when the time is up.
  auto wait_for = [&](int e, Clock::time_point until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    pollfd p{stream.fd(), short(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    return left > 0 && poll(&p, 1, int(left)) > 0;
  };
  // A failed SSL call: an alert or a protocol error, or the peer hanging up.
  auto failed_with = [&](int e, int err) {
    ssl_err = ERR_peek_error();
    obs.handshake_failed = true;
    obs.not_tls = ssl_err && looks_like_not_tls(ssl_err);
    if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN || (ssl_err && ERR_GET_REASON(ssl_err) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
      ended = ended_how(e == SSL_ERROR_SYSCALL ? err : 0);
  };
  while (true) {
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_connect(ssl);
    const int err = errno;
    if (rc == 1) break;
    const int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(e, deadline)) {
        obs.timed_out = true;
        break;
      }
      continue;
    }
    failed_with(e, err);
    break;
  }
  // TLS 1.3 finishes the client's handshake before the server has looked at its certificate
  // (or its missing one): the verdict comes after, as an alert or a session ticket. Wait for
  // it a little, only when a certificate was asked for.
  if (!obs.handshake_failed && !obs.timed_out && collected.cert_requested && SSL_version(ssl) >= TLS1_3_VERSION) {
    const auto until = std::min(deadline, Clock::now() + std::chrono::milliseconds(1000));
    char byte;
    while (!collected.ticket) {
      ERR_clear_error();
      errno = 0;
      const int rc = SSL_peek(ssl, &byte, 1);
      const int err = errno;
      if (rc > 0) break;
      const int e = SSL_get_error(ssl, rc);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (!wait_for(e, until)) break;
        continue;
      }
      failed_with(e, err);
      break;
    }
  }
  r.duration_ms = clock.elapsed_ms();
  obs.reset = !ended.empty();
  obs.cert_requested = collected.cert_requested;
  obs.cert_sent = collected.cert_requested && !o.cert.empty();
  obs.alert = collected.alert;

  // Describe the certificate whenever one arrived, whatever the verdict.
  std::string cert_story;
  if (X509* cert = SSL_get0_peer_certificate(ssl)) {
    boost::json::object c;
    c["subject"] = name_text(X509_get_subject_name(cert));
    c["issuer"] = name_text(X509_get_issuer_name(cert));
    c["not_before"] = asn1_time_text(X509_get0_notBefore(cert));
    c["not_after"] = asn1_time_text(X509_get0_notAfter(cert));
    c["days_left"] = days_from_now(X509_get0_notAfter(cert));
    r.evidence["certificate"] = std::move(c);
  }
  boost::json::array errors;
  for (auto& e : collected.errors) {
    obs.verify_errors.push_back(e.code);
    errors.push_back(boost::json::object{{"code", e.code}, {"depth", e.depth}, {"error", X509_verify_cert_error_string(e.code)}, {"subject", e.subject}});
  }
  r.evidence["verify_errors"] = std::move(errors);
  if (!collected.alert_received.empty()) {
    r.evidence["alert_received"] = collected.alert_received;
    r.evidence["alert_code"] = collected.alert;
  }
  if (collected.cert_requested || !o.cert.empty())
    r.evidence["client_certificate"] = boost::json::object{{"requested", collected.cert_requested}, {"sent", obs.cert_sent},
                                                           {"file", o.cert.empty() ? boost::json::value(nullptr) : boost::json::value(o.cert)}};
  if (!ended.empty()) {
    r.evidence["connection"] = ended;
    r.evidence["server_spoke"] = collected.server_spoke;
    r.evidence["handshake_state"] = SSL_state_string_long(ssl);
  }
  if (ssl_err) {
    char buf[256];
    ERR_error_string_n(ssl_err, buf, sizeof buf);
    r.evidence["openssl_error"] = buf;
  }
  if (!obs.handshake_failed && !obs.timed_out) {
    r.evidence["version"] = SSL_get_version(ssl);
    r.evidence["cipher"] = SSL_get_cipher_name(ssl);
    const unsigned char* proto = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);
    r.evidence["alpn"] = len ? boost::json::value(std::string(reinterpret_cast<const char*>(proto), len)) : boost::json::value(nullptr);
  }

  const std::string cause(classify_tls(obs));
  if (cause.empty()) {
    // `collected` lives on this frame: nothing may point at it once the stream carries on.
    SSL_set_msg_callback(ssl, nullptr);
    SSL_set_ex_data(ssl, collected_index(), nullptr);
    stream.attach_tls(ssl);
    r.status = Status::ok;
    X509* cert = SSL_get0_peer_certificate(ssl);
    r.summary = std::string(SSL_get_version(ssl)) + ", certificate valid " + std::to_string(days_from_now(cert ? X509_get0_notAfter(cert) : nullptr)) +
                " more days";
    if (obs.cert_sent) r.summary += ", client certificate accepted";
    return r;
  }
  X509* cert = SSL_get0_peer_certificate(ssl);
  const int days = days_from_now(cert ? X509_get0_notAfter(cert) : nullptr);
  const std::string alert_text =
      collected.alert_received.empty() ? std::string() : "alert '" + collected.alert_received + "' (" + std::to_string(collected.alert) + ") received";
  std::string why;
  if (cause == "cert_expired")
    why = "certificate expired " + std::to_string(-days) + " days ago (notAfter " + asn1_time_text(X509_get0_notAfter(cert)) + ")";
  else if (cause == "cert_not_yet_valid")
    why = "certificate is not valid until " + asn1_time_text(X509_get0_notBefore(cert));
  else if (cause == "hostname_mismatch") why = "the certificate does not name " + o.host;
  else if (cause == "self_signed") why = "the certificate is self-signed (" + (cert ? name_text(X509_get_subject_name(cert)) : std::string("?")) + ")";
  else if (cause == "untrusted_chain")
    why = std::string("the chain does not lead to a trusted CA: ") + X509_verify_cert_error_string(obs.verify_errors.front());
  else if (cause == "protocol_mismatch") why = "the peer does not speak TLS on this port";
  else if (cause == "timeout") why = "the handshake did not finish within " + format_duration(timeout);
  else if (cause == "client_cert_required")
    why = "the server requires a client certificate and none was sent (" +
          (alert_text.empty() ? "the connection was " + ended + " after its CertificateRequest" : alert_text) + "): pass --cert FILE --key FILE";
  else if (cause == "reset")
    why = "the connection was " + ended + " by the peer during the handshake, " +
          (collected.server_spoke ? "after the server's first answer" : "after the ClientHello and before any answer") +
          (o.host_is_ip ? std::string() : " (SNI " + o.host + ")") + ": a middlebox filtering on SNI, or a server dropping clients";
  else {
    why = "handshake failed" + (alert_text.empty() ? std::string() : ": " + alert_text) +
          (ssl_err && alert_text.empty() ? std::string(": ") + ERR_reason_error_string(ssl_err) : std::string());
    if (obs.cert_sent) why += " (the server rejected the client certificate " + o.cert + ")";
  }
  if (collected.errors.size() > 1) why += " (+" + std::to_string(collected.errors.size() - 1) + " more problem(s), see evidence)";
  SSL_free(ssl);
  return fail(std::move(r), cause, why);
}

}  // namespace edge::trace
