// OpenSSL behind edge::tls: loading and generating certificates, verification settings.
#include "core/tls/contexts.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/error.hpp>
#include <cstdio>
#include <fstream>

#include "core/base/errors.h"

namespace edge::tls {
namespace ssl = boost::asio::ssl;

namespace {

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  // "error:0A000086:SSL routines::certificate verify failed" -> the reason only.
  std::string s = buf;
  if (auto p = s.rfind(':'); p != std::string::npos) s.erase(0, p + 1);
  return s;
}

bool is_ip(const std::string& s) {
  unsigned char b[16];
  return inet_pton(AF_INET, s.c_str(), b) == 1 || inet_pton(AF_INET6, s.c_str(), b) == 1;
}

std::string fingerprint_of(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, i ? ":%02X" : "%02X", md[i]);
    out += hex;
  }
  return out;
}

std::string subject_of(X509* cert) {
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

// HTTP/1.1 is all the proxy speaks: choose it from the client's ALPN list; a client offering
// only other protocols gets no ALPN answer and may go on with HTTP/1.1 or give up.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen, void*) {
  static const unsigned char kHttp11[] = "\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::unique_ptr<ssl::context> server_base() {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
  // Free each connection's read/write buffers while it is idle (an idle TLS keepalive
  // connection then costs far less).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace

ServerContext server_from_files(const std::string& cert_file, const std::string& key_file) {
  ServerContext out{server_base(), {}, {}};
  SSL_CTX* c = out.ctx->native_handle();
  if (!std::ifstream(cert_file)) throw Fatal(Exit::usage, "--tls-cert " + cert_file + ": cannot read the file");
  if (!std::ifstream(key_file)) throw Fatal(Exit::usage, "--tls-key " + key_file + ": cannot read the file");
  if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1)
    throw Fatal(Exit::usage, "--tls-cert " + cert_file + ": not a PEM certificate chain (" + openssl_error() + ")");
  if (SSL_CTX_use_PrivateKey_file(c, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string why = openssl_error();
    if (why.find("mismatch") != std::string::npos)
      throw Fatal(Exit::usage, "--tls-key " + key_file + ": does not match the certificate in " + cert_file);
    throw Fatal(Exit::usage, "--tls-key " + key_file + ": not a PEM private key (" + why + ")");
  }
  if (SSL_CTX_check_private_key(c) != 1)
    throw Fatal(Exit::usage, "--tls-key " + key_file + ": does not match the certificate in " + cert_file);
  X509* leaf = SSL_CTX_get0_certificate(c);
  out.fingerprint = fingerprint_of(leaf);
  out.subject = subject_of(leaf);
  return out;
}

ServerContext server_self_signed(const std::vector<std::string>& names) {
  ServerContext out{server_base(), {}, {}};
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (!key || !cert) throw Fatal(Exit::failed, "--tls-auto: cannot make a key (" + openssl_error() + ")");
  X509_set_version(cert, 2);
  unsigned char serial[16];
  std::ifstream("/dev/urandom").read(reinterpret_cast<char*>(serial), sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);  // an hour of grace for skewed clocks
  X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  const std::string cn = names.empty() ? "edge" : names.front();
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("edge rproxy --tls-auto"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "" : ",") + std::string(is_ip(n) ? "IP:" : "DNS:") + n;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, san}, std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
                                   std::pair{NID_ext_key_usage, std::string("serverAuth")}}) {
    if (value.empty()) continue;
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (ext) X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!X509_sign(cert, key, EVP_sha256())) throw Fatal(Exit::failed, "--tls-auto: cannot sign the certificate (" + openssl_error() + ")");
  SSL_CTX* c = out.ctx->native_handle();
  SSL_CTX_use_certificate(c, cert);
  SSL_CTX_use_PrivateKey(c, key);
  out.fingerprint = fingerprint_of(cert);
  out.subject = subject_of(cert);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

std::unique_ptr<ssl::context> client(const std::string& ca_file, bool verify) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* c = ctx->native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  static const unsigned char kHttp11[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(c, kHttp11, sizeof kHttp11 - 1);
  if (!verify) return ctx;
  if (!ca_file.empty()) {
    if (!std::ifstream(ca_file)) throw Fatal(Exit::usage, "--upstream-ca " + ca_file + ": cannot read the file");
    if (SSL_CTX_load_verify_locations(c, ca_file.c_str(), nullptr) != 1)
      throw Fatal(Exit::usage, "--upstream-ca " + ca_file + ": not a PEM certificate file (" + openssl_error() + ")");
  } else {
    SSL_CTX_set_default_verify_paths(c);
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

void prepare_client(Stream::Tls& tls, const std::string& host, bool verify) {
  SSL* s = tls.native_handle();
  if (!is_ip(host)) SSL_set_tlsext_host_name(s, host.c_str());
  if (!verify) return;
  X509_VERIFY_PARAM* param = SSL_get0_param(s);
  if (is_ip(host)) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  else X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
}

std::string handshake_error(Stream::Tls& tls, const boost::system::error_code& ec) {
  const long v = SSL_get_verify_result(tls.native_handle());
  if (v != X509_V_OK) return std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    std::string s = ec.message();
    if (auto p = s.find(" ("); p != std::string::npos) s.erase(p);  // drop OpenSSL's "(SSL routines)" suffix
    return s;
  }
  return ec.message();
}

}  // namespace edge::tls
