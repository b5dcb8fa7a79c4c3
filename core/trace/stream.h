// A connected socket, optionally wrapped in TLS, with reads and writes bounded by a deadline.
// The trace layers above TCP (proxy, tls, http) all talk through it.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "core/base/fd.h"

struct ssl_st;

namespace edge::trace {

using Clock = std::chrono::steady_clock;

class Stream {
 public:
  explicit Stream(UniqueFd fd) : fd_(std::move(fd)) {}
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int fd() const { return fd_.get(); }
  // Takes ownership of an SSL object whose handshake is complete. A second one (TLS to the
  // target inside TLS to an https:// proxy) runs over the first, which is kept until the end.
  void attach_tls(ssl_st* ssl) {
    outer_ = ssl_;
    ssl_ = ssl;
  }
  ssl_st* tls() const { return ssl_; }

  // Returns bytes read (0 = peer closed), or -1 with `err` (ETIMEDOUT at the deadline).
  long read_some(char* buf, size_t len, Clock::time_point deadline, int& err);
  bool write_all(std::string_view data, Clock::time_point deadline, int& err);

 private:
  bool wait(short events, Clock::time_point deadline, int& err);
  UniqueFd fd_;
  ssl_st* ssl_ = nullptr;
  ssl_st* outer_ = nullptr;
};

}  // namespace edge::trace
