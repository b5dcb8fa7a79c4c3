// Streaming aligned tables.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "core/out/table.h"

using namespace edge;

static std::string render(size_t window, const std::vector<std::vector<std::string>>& rows) {
  char* data = nullptr;
  size_t size = 0;
  FILE* mem = open_memstream(&data, &size);
  {
    TableWriter t(mem, {{"NAME"}, {"N", Align::right}, {"NOTE"}}, window);
    for (auto& r : rows) t.row(r);
  }
  std::fclose(mem);
  std::string out(data, size);
  std::free(data);
  return out;
}

TEST_CASE("columns align to the widest cell; the last column is not padded") {
  CHECK(render(10, {{"a", "1", "x"}, {"longer", "100", ""}}) ==
        "NAME      N  NOTE\n"
        "a         1  x\n"
        "longer  100\n");
}

TEST_CASE("rows after the sizing window keep the widths") {
  CHECK(render(1, {{"a", "1", "x"}, {"longer", "100", "y"}}) ==
        "NAME  N  NOTE\n"
        "a     1  x\n"
        "longer  100  y\n");
}

TEST_CASE("no rows, no header") { CHECK(render(10, {}).empty()); }
