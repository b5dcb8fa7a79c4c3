// The result of parsing untrusted text: a value, or a message saying what was wrong and what
// would be accepted. Parsers never throw; callers turn the message into a usage error.
#pragma once
#include <boost/system/result.hpp>
#include <string>

namespace edge {

template <class T>
using Parsed = boost::system::result<T, std::string>;

}  // namespace edge

namespace edge {

// An explicit error result, for value types that text could also convert to.
template <class T>
Parsed<T> parse_error(std::string message) {
  return Parsed<T>(boost::system::in_place_error, std::move(message));
}

}  // namespace edge
