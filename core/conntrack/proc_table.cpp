// Reading /proc/net/nf_conntrack line by line and the nf_conntrack_{count,max} sysctls.
#include "core/conntrack/proc_table.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unistd.h>

#include "core/base/errors.h"
#include "core/conntrack/proc_parse.h"

namespace edge {
namespace {

constexpr const char* kProcTable = "/proc/net/nf_conntrack";

std::optional<uint64_t> read_u64_file(const char* path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path, "re"), std::fclose);
  unsigned long long v = 0;
  if (!f || std::fscanf(f.get(), "%llu", &v) != 1) return std::nullopt;
  return v;
}

}  // namespace

bool proc_table_available() { return access(kProcTable, F_OK) == 0; }

size_t proc_table_dump(const std::function<bool(const Flow&)>& each) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(kProcTable, "re"), std::fclose);
  if (!f) {
    if (errno == EACCES || errno == EPERM) throw Fatal(Exit::privilege, std::string("reading ") + kProcTable + " needs root");
    throw Fatal(Exit::environment, std::string("cannot read ") + kProcTable + ": " + std::strerror(errno));
  }
  char* line = nullptr;  // getline's buffer, grown and owned by us
  struct FreeLine {
    char*& p;
    ~FreeLine() { std::free(p); }
  } free_line{line};
  size_t cap = 0, bad = 0;
  Flow flow;
  ssize_t n;
  while ((n = getline(&line, &cap, f.get())) > 0) {
    if (!parse_proc_conntrack_line(std::string_view(line, size_t(n)), flow)) ++bad;
    else if (!each(flow)) break;
  }
  return bad;
}

std::optional<TableCount> proc_table_count() {
  auto count = read_u64_file("/proc/sys/net/netfilter/nf_conntrack_count");
  auto max = read_u64_file("/proc/sys/net/netfilter/nf_conntrack_max");
  if (!count || !max) return std::nullopt;
  return TableCount{*count, *max};
}

}  // namespace edge
