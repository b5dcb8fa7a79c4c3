// Proxy credentials (engines/proxy/auth.h).
#include "engines/proxy/auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <fstream>

#include "core/base/errors.h"
#include "core/http/syntax.h"

namespace edge::proxy {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Strict base64: a length that is a multiple of 4, padding only at the end.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 4096) return std::nullopt;
  const size_t pad = in.substr(in.size() - 2).find('=') == std::string_view::npos ? 0 : (in.back() == '=' && in[in.size() - 2] == '=' ? 2 : 1);
  if (in.substr(0, in.size() - pad).find('=') != std::string_view::npos) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
  if (n < 0) return std::nullopt;
  out.resize(size_t(n) - pad);
  return out;
}

std::string base64_encode(const unsigned char* p, size_t n) {
  std::string out((n + 2) / 3 * 4, '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, int(n));
  return out;
}

bool equal_secret(std::string_view a, std::string_view b) { return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

std::string pair_digest(std::string_view user, std::string_view pass) {
  std::string in(user);
  in.push_back('\0');
  in.append(pass);
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), d);
  return std::string(reinterpret_cast<char*>(d), sizeof d);
}

bool hash_matches(const std::string& stored, std::string_view pass) {
  if (starts_with(stored, "plain:")) return equal_secret(std::string_view(stored).substr(6), pass);
  if (starts_with(stored, "{SHA}")) {
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(pass.data()), pass.size(), d);
    return equal_secret(std::string_view(stored).substr(5), base64_encode(d, sizeof d));
  }
  crypt_data data{};
  const std::string p(pass);
  const char* out = crypt_r(p.c_str(), stored.c_str(), &data);
  return out && out[0] != '*' && equal_secret(out, stored);
}

}  // namespace

Credentials Credentials::from_pair(const std::string& pair) {
  const auto colon = pair.find(':');
  if (colon == std::string::npos) throw usage_error("--auth", "(hidden)", "needs USER:PASSWORD (split at the first colon)");
  if (colon == 0) throw usage_error("--auth", "(hidden)", "has an empty user name");
  Credentials c;
  c.users_.emplace(pair.substr(0, colon), "plain:" + pair.substr(colon + 1));
  return c;
}

Credentials Credentials::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw usage_error("--auth-file", path, "cannot be read");
  Credentials c;
  std::string line;
  for (unsigned n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    const std::string where = path + ":" + std::to_string(n);
    if (colon == std::string::npos || colon == 0) throw usage_error("--auth-file", where, "is not a 'user:hash' line");
    std::string hash = line.substr(colon + 1);
    if (!(starts_with(hash, "$2y$") || starts_with(hash, "$2b$") || starts_with(hash, "$2a$") || starts_with(hash, "$5$") ||
          starts_with(hash, "$6$") || starts_with(hash, "{SHA}")))
      throw usage_error("--auth-file", where,
                        "has a hash edge cannot check (accepted: bcrypt $2y$, SHA-crypt $5$/$6$, {SHA}; make one with 'htpasswd -B')");
    c.users_.emplace(line.substr(0, colon), std::move(hash));
  }
  if (c.users_.empty()) throw usage_error("--auth-file", path, "has no user in it");
  return c;
}

bool Credentials::check(std::string_view user, std::string_view pass) const {
  const auto it = users_.find(user);
  if (it == users_.end()) return false;
  const std::string key = pair_digest(user, pass);
  {
    std::lock_guard lk(passed_->mu);
    if (passed_->digests.count(key)) return true;
  }
  if (!hash_matches(it->second, pass)) return false;
  std::lock_guard lk(passed_->mu);
  if (passed_->digests.size() > 10000) passed_->digests.clear();
  passed_->digests.insert(key);
  return true;
}

std::optional<std::pair<std::string, std::string>> Credentials::parse_basic(std::string_view header) {
  header = http::trim_ows(header);
  if (header.size() < 6 || !(header.substr(0, 6) == "Basic " || header.substr(0, 6) == "basic ")) return std::nullopt;
  auto decoded = base64_decode(http::trim_ows(header.substr(6)));
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

}  // namespace edge::proxy
