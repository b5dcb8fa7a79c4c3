// Access-log files (core/out/log_file.h).
#include "core/out/log_file.h"

#include "core/base/errors.h"

namespace edge {

LogFile::LogFile(const std::string& where, const std::string& flag) {
  if (where.empty()) return;
  if (where == "-") {
    f_ = stdout;
    return;
  }
  path_ = where;
  f_ = std::fopen(where.c_str(), "ae");
  if (!f_) throw Fatal(Exit::usage, flag + ": cannot open '" + where + "' for appending");
  owned_ = true;
}

LogFile::~LogFile() {
  if (owned_) std::fclose(f_);
}

void LogFile::reopen() {
  if (!owned_) return;
  std::lock_guard lk(mu_);
  if (std::FILE* f = std::fopen(path_.c_str(), "ae")) {
    std::fclose(f_);
    f_ = f;
  }
}

void LogFile::write(std::string_view line) {
  if (!f_) return;
  std::lock_guard lk(mu_);
  std::fwrite(line.data(), 1, line.size(), f_);
  std::fflush(f_);
}

}  // namespace edge
