// One libnftables context for the life of the process. A table created with the `owner` flag
// belongs to the netlink socket of the context that made it: the kernel removes it when that
// socket closes (SIGKILL included), and any other context, even in the same process, gets
// EPERM on it. So every nft command edge runs goes through this one session.
#pragma once
#include <string>

struct nft_ctx;

namespace edge::nft {

struct Result {
  bool ok = false;
  std::string output, error;  // nft's stdout (JSON with json=true) and its error text
};

class Session {
 public:
  // Throws Fatal(environment) when libnftables cannot make a context.
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs nft commands (a script: one transaction). json: output as libnftables JSON.
  Result run(const std::string& commands, bool json = false);
  // Checks a script without changing anything (nft -c).
  Result check(const std::string& commands);

 private:
  nft_ctx* ctx_ = nullptr;
};

}  // namespace edge::nft
