// Library versions, asked at run time where the library is shared and loaded (glibc, libpcap)
// and taken at build time where it is linked statically or has no version call.
#include "core/version/version.h"

#include <ares.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <gnu/libc-version.h>
#include <openssl/crypto.h>

#include <boost/version.hpp>

#include "core/capture/pcap_api.h"
#include "edge_commit.h"  // generated in the build tree: EDGE_COMMIT

#ifndef EDGE_VERSION
#error "EDGE_VERSION must be defined by CMakeLists.txt (project version)"
#endif

namespace edge {

std::string_view version() { return EDGE_VERSION; }

std::string_view commit() { return EDGE_COMMIT; }

std::string version_line() { return fmt::format("edge {} ({})", version(), commit()); }

std::string version_report() {
  std::string s = version_line() + "\n";
  auto line = [&s](std::string_view name, std::string_view text) { s += fmt::format("  {:<24}{}\n", name, text); };
#if defined(__clang__)
  line("compiler", fmt::format("clang {}", __clang_version__));
#elif defined(__GNUC__)
  line("compiler", fmt::format("g++ {}", __VERSION__));
#endif
#if defined(_GLIBCXX_RELEASE)
  line("libstdc++", fmt::format("{} ({}, static)", _GLIBCXX_RELEASE, __GLIBCXX__));
#endif
  line("glibc", gnu_get_libc_version());
  line("OpenSSL", fmt::format("{} (static)", OpenSSL_version(OPENSSL_VERSION_STRING)));
  line("c-ares", fmt::format("{} (static)", ares_version(nullptr)));
  line("Boost", fmt::format("{}.{}.{} (static)", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100));
  line("fmt", fmt::format("{}.{}.{} (header-only)", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100));
#ifdef EDGE_NFCT_VERSION
  line("libnetfilter_conntrack", EDGE_NFCT_VERSION " (at build time)");
#endif
#ifdef EDGE_MNL_VERSION
  line("libmnl", EDGE_MNL_VERSION " (at build time)");
#endif
#ifdef EDGE_NFTABLES_VERSION
  // Listed only when this binary links it: RTLD_NOLOAD finds a library already mapped.
  if (void* h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_NOLOAD)) {
    dlclose(h);
    line("libnftables", EDGE_NFTABLES_VERSION " (at build time)");
  }
#endif
  const PcapApi* pcap = pcap_api();
  line("libpcap", pcap ? pcap->lib_version() : "not loadable (edge trace --capture needs libpcap0.8)");
  s.pop_back();  // the caller ends the last line
  return s;
}

}  // namespace edge
