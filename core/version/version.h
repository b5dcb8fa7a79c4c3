// What edge is: its version (from project() in CMakeLists.txt), the commit it was built from
// (git, refreshed on every build), and for a bug report the versions of the libraries it uses.
// The version strings are compiled into version.cpp alone, so a bump or a new commit rebuilds
// one file, not the tree.
#pragma once
#include <string>
#include <string_view>

namespace edge {

// "0.2.0".
std::string_view version();
// "43e8f6d", "43e8f6d-dirty", or "unknown" when built outside a git checkout.
std::string_view commit();
// "edge 0.2.0 (43e8f6d)": what `edge --version` prints.
std::string version_line();
// version_line() and one line per library (name, version, how it is linked), for
// `edge --version --verbose`; no newline after the last line. Loads libpcap to ask it, as a
// capture would.
std::string version_report();

}  // namespace edge
