// Lets doctest print a Parsed<T> in failure messages (Boost's own operator<< needs T printable).
#pragma once
#include <doctest/doctest.h>

#include "core/base/parsed.h"

namespace doctest {
template <class T>
struct StringMaker<edge::Parsed<T>> {
  static String convert(const edge::Parsed<T>& r) { return r ? String("<parsed>") : String(("error: " + r.error()).c_str()); }
};
}  // namespace doctest
