// Where a proxy's access log goes: stdout ("-") or a file opened for appending, written a
// whole line at a time under a lock and flushed at once (a line is in the file as soon as
// its request is answered), reopened on SIGHUP after log rotation moved it away.
#pragma once
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace edge {

class LogFile {
 public:
  // where: "" (off), "-" (stdout) or a file; one that cannot be opened is a usage error
  // naming `flag`.
  LogFile(const std::string& where, const std::string& flag);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  bool on() const { return f_ != nullptr; }
  void reopen();
  void write(std::string_view line);

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  bool owned_ = false;
  std::mutex mu_;
};

}  // namespace edge
