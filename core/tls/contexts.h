// TLS contexts for the proxies: a server context from PEM files or a fresh self-signed
// certificate (--tls-auto), and a client context for https backends (verification on by
// default, system trust store or a CA file). Every failure names the flag and the file.
#pragma once
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/net/stream.h"

namespace edge::tls {

struct ServerContext {
  std::unique_ptr<boost::asio::ssl::context> ctx;
  std::string fingerprint;  // SHA-256 of the leaf certificate, AA:BB:... (what a client pins)
  std::string subject;
};

// --tls-cert/--tls-key: the chain and key must load and match; else Fatal(Exit::usage).
ServerContext server_from_files(const std::string& cert_file, const std::string& key_file);
// --tls-auto: an EC P-256 key and a certificate valid for `names` (DNS names or IP literals)
// for 30 days, made in memory; nothing is written to disk.
ServerContext server_self_signed(const std::vector<std::string>& names);

// --upstream-tls: verify the backend's chain against `ca_file` ("" = the system store) unless
// `verify` is false.
std::unique_ptr<boost::asio::ssl::context> client(const std::string& ca_file, bool verify);
// Per connection: SNI = host (not for IP literals) and the name or address the certificate
// must carry.
void prepare_client(Stream::Tls& tls, const std::string& host, bool verify);
// Why a handshake failed, in a few words ("certificate verify failed: certificate has expired").
std::string handshake_error(Stream::Tls& tls, const boost::system::error_code& ec);

}  // namespace edge::tls
