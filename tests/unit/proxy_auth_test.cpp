// `edge proxy`'s credentials: Basic header parsing, --auth pairs, and htpasswd files with each
// hash edge accepts (bcrypt, SHA-crypt, {SHA}) and the ones it refuses at start.
#include <doctest/doctest.h>

#include <crypt.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/base/errors.h"
#include "engines/proxy/auth.h"

using edge::proxy::Credentials;

namespace {

// A temporary htpasswd file, removed with the object.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/edge-auth-test.XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

std::string hash_with(const char* prefix, const std::string& pass) {
  char salt[64];
  REQUIRE(crypt_gensalt_rn(prefix, prefix[1] == '2' ? 4 : 1000, nullptr, 0, salt, sizeof salt) != nullptr);
  crypt_data data{};
  return crypt_r(pass.c_str(), salt, &data);
}

}  // namespace

TEST_CASE("proxy auth: Basic header values") {
  auto c = Credentials::parse_basic("Basic YWxpY2U6cEBzczp3MHJk");  // alice:p@ss:w0rd
  REQUIRE(c);
  CHECK(c->first == "alice");
  CHECK(c->second == "p@ss:w0rd");  // split at the first colon only
  CHECK(Credentials::parse_basic("basic YWxpY2U6")->second.empty());  // alice: (empty password)
  CHECK_FALSE(Credentials::parse_basic("Bearer abc"));
  CHECK_FALSE(Credentials::parse_basic("Basic"));
  CHECK_FALSE(Credentials::parse_basic("Basic !!!!"));
  CHECK_FALSE(Credentials::parse_basic("Basic YWxpY2U"));       // not a multiple of 4
  CHECK_FALSE(Credentials::parse_basic("Basic YQ==YQ=="));      // padding in the middle
  CHECK_FALSE(Credentials::parse_basic("Basic bm9jb2xvbg=="));  // "nocolon": no user:pass
}

TEST_CASE("proxy auth: --auth user:pass") {
  const auto c = Credentials::from_pair("alice:p@ss:w0rd");
  CHECK(c.configured());
  CHECK(c.check("alice", "p@ss:w0rd"));
  CHECK_FALSE(c.check("alice", "p@ss"));
  CHECK_FALSE(c.check("bob", "p@ss:w0rd"));
  CHECK_FALSE(Credentials().configured());
  CHECK_THROWS_AS(Credentials::from_pair("nocolon"), edge::Fatal);
  CHECK_THROWS_AS(Credentials::from_pair(":pass"), edge::Fatal);
}

TEST_CASE("proxy auth: htpasswd files") {
  const TempFile f("# users\n\nalice:" + hash_with("$2b$", "wonderland") + "\nbob:" + hash_with("$6$", "builder") +
                   "\ncarol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");  // {SHA} of "password"
  const auto c = Credentials::from_file(f.path);
  CHECK(c.check("alice", "wonderland"));
  CHECK(c.check("alice", "wonderland"));  // again, from the cache of passed pairs
  CHECK_FALSE(c.check("alice", "Wonderland"));
  CHECK(c.check("bob", "builder"));
  CHECK_FALSE(c.check("bob", "wonderland"));
  CHECK(c.check("carol", "password"));
  CHECK_FALSE(c.check("carol", "passwore"));
  CHECK_FALSE(c.check("dave", "x"));

  const TempFile apr("alice:$apr1$abc$def\n");
  CHECK_THROWS_WITH_AS(Credentials::from_file(apr.path), doctest::Contains(":1"), edge::Fatal);
  const TempFile plain("alice:secret\n");
  CHECK_THROWS_AS(Credentials::from_file(plain.path), edge::Fatal);
  const TempFile empty("# nobody\n");
  CHECK_THROWS_AS(Credentials::from_file(empty.path), edge::Fatal);
  CHECK_THROWS_AS(Credentials::from_file("/nonexistent/htpasswd"), edge::Fatal);
}
