// Deadline-bounded I/O on a non-blocking socket, plain or through OpenSSL.
#include "core/trace/stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace edge::trace {

Stream::~Stream() {
  for (ssl_st* s : {ssl_, outer_})  // the inner session first: it writes through the outer one
    if (s) {
      SSL_shutdown(s);  // best effort close_notify; never waited for
      SSL_free(s);
    }
}

bool Stream::wait(short events, Clock::time_point deadline, int& err) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      err = ETIMEDOUT;
      return false;
    }
    pollfd p{fd_.get(), events, 0};
    int r = poll(&p, 1, int(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      err = errno;
      return false;
    }
    if (r > 0) return true;
  }
}

long Stream::read_some(char* buf, size_t len, Clock::time_point deadline, int& err) {
  while (true) {
    if (ssl_) {
      ERR_clear_error();
      int n = SSL_read(ssl_, buf, int(len));
      if (n > 0) return n;
      int e = SSL_get_error(ssl_, n);
      if (e == SSL_ERROR_ZERO_RETURN) return 0;
      if (e == SSL_ERROR_WANT_READ) {
        if (!wait(POLLIN, deadline, err)) return -1;
        continue;
      }
      if (e == SSL_ERROR_WANT_WRITE) {
        if (!wait(POLLOUT, deadline, err)) return -1;
        continue;
      }
      if (e == SSL_ERROR_SYSCALL) {
        err = errno ? errno : ECONNRESET;  // a real socket error (a reset), not an end of stream
        return -1;
      }
      err = EPROTO;
      return -1;
    }
    ssize_t n = recv(fd_.get(), buf, len, 0);
    if (n >= 0) return long(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      err = errno;
      return -1;
    }
    if (!wait(POLLIN, deadline, err)) return -1;
  }
}

bool Stream::write_all(std::string_view data, Clock::time_point deadline, int& err) {
  while (!data.empty()) {
    if (ssl_) {
      ERR_clear_error();
      int n = SSL_write(ssl_, data.data(), int(data.size()));
      if (n > 0) {
        data.remove_prefix(size_t(n));
        continue;
      }
      int e = SSL_get_error(ssl_, n);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        if (!wait(e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline, err)) return false;
        continue;
      }
      err = EPROTO;
      return false;
    }
    ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      err = errno;
      return false;
    }
    if (!wait(POLLOUT, deadline, err)) return false;
  }
  return true;
}

}  // namespace edge::trace
