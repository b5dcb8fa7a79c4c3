// OpenSSL client handshake. The verify callback records each error and returns 1, so the
// handshake completes and the certificate can be described even when it is bad; the verdict
// is taken from the collected errors afterwards.
#include "core/trace/tls_probe.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <boost/json/array.hpp>
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

void on_info(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ)) {
    auto* c = static_cast<Collected*>(SSL_get_ex_data(ssl, collected_index()));
    if (c) c->alert_received = SSL_alert_desc_string_long(ret);
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

}  // namespace

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
  SSL* ssl = SSL_new(ctx.get());
  Collected collected;
  SSL_set_ex_data(ssl, collected_index(), &collected);
  SSL_set_info_callback(ssl, on_info);
  SSL_set_fd(ssl, stream.fd());
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
  while (true) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl);
    if (rc == 1) break;
    const int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{stream.fd(), short(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      if (left <= 0 || poll(&p, 1, int(left)) == 0) {
        obs.timed_out = true;
        break;
      }
      continue;
    }
    ssl_err = ERR_peek_error();
    obs.handshake_failed = true;
    obs.not_tls = ssl_err && looks_like_not_tls(ssl_err);
    break;
  }
  r.duration_ms = clock.elapsed_ms();

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
  if (!collected.alert_received.empty()) r.evidence["alert_received"] = collected.alert_received;
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
    SSL_set_info_callback(ssl, nullptr);
    SSL_set_ex_data(ssl, collected_index(), nullptr);
    stream.attach_tls(ssl);
    r.status = Status::ok;
    X509* cert = SSL_get0_peer_certificate(ssl);
    r.summary = std::string(SSL_get_version(ssl)) + ", certificate valid " + std::to_string(days_from_now(cert ? X509_get0_notAfter(cert) : nullptr)) +
                " more days";
    return r;
  }
  X509* cert = SSL_get0_peer_certificate(ssl);
  const int days = days_from_now(cert ? X509_get0_notAfter(cert) : nullptr);
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
  else
    why = "handshake failed" + (collected.alert_received.empty() ? std::string() : ": alert '" + collected.alert_received + "' received") +
          (ssl_err && collected.alert_received.empty() ? std::string(": ") + ERR_reason_error_string(ssl_err) : std::string());
  if (collected.errors.size() > 1) why += " (+" + std::to_string(collected.errors.size() - 1) + " more problem(s), see evidence)";
  SSL_free(ssl);
  return fail(std::move(r), cause, why);
}

}  // namespace edge::trace
