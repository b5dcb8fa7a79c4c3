// Who may use `edge proxy` by password: one --auth user:pass, or an htpasswd file (--auth-file)
// with bcrypt ($2y$/$2b$), SHA-crypt ($5$/$6$) or {SHA} entries, checked for HTTP's
// Proxy-Authorization: Basic and SOCKS5's username/password. A password that passed is
// remembered (by a hash of the pair) so bcrypt's deliberate slowness is paid once per client,
// not per request, as Squid's credentials cache does.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace edge::proxy {

class Credentials {
 public:
  Credentials() = default;  // none: nobody needs to authenticate
  // "user:pass", split at the first colon; a usage error (naming --auth) when there is none or
  // the user is empty.
  static Credentials from_pair(const std::string& pair);
  // htpasswd lines "user:hash"; '#' comments and blank lines skipped. A line whose hash edge
  // cannot check ($apr1$ MD5, plain text) is a usage error naming the file and line.
  static Credentials from_file(const std::string& path);

  bool configured() const { return !users_.empty(); }
  bool check(std::string_view user, std::string_view pass) const;

  // The user and password of a "Basic <base64>" header value, when it is one.
  static std::optional<std::pair<std::string, std::string>> parse_basic(std::string_view header);

 private:
  std::map<std::string, std::string, std::less<>> users_;  // user -> "plain:" + password, or a hash
  struct Passed {
    std::mutex mu;
    std::set<std::string> digests;  // SHA-256 of user NUL password that checked out
  };
  std::unique_ptr<Passed> passed_ = std::make_unique<Passed>();
};

}  // namespace edge::proxy
