// Size classes of 32 bytes to 4 KiB, a free list each, per thread; larger blocks go to malloc.
#include "core/base/pool_alloc.h"

#include <cstdlib>
#include <new>

namespace edge::pool {
namespace {

constexpr std::size_t kClasses = 8;         // 32, 64, ..., 4096 bytes
constexpr std::size_t kKeepPerClass = 1024;  // beyond this many free blocks, give back to malloc

struct FreeBlock {
  FreeBlock* next;
};

struct Lists {
  FreeBlock* head[kClasses] = {};
  std::size_t count[kClasses] = {};
  std::size_t misses = 0;
  ~Lists() {
    for (auto* h : head)
      while (h) {
        FreeBlock* next = h->next;
        std::free(h);
        h = next;
      }
  }
};

thread_local Lists lists;

// The class of a block of `bytes`, or kClasses when it is too large to pool.
std::size_t size_class(std::size_t bytes) {
  std::size_t c = 0, size = 32;
  while (size < bytes && c < kClasses) size <<= 1, ++c;
  return c;
}

}  // namespace

void* take(std::size_t bytes) {
  const std::size_t c = size_class(bytes);
  if (c < kClasses && lists.head[c]) {
    FreeBlock* b = lists.head[c];
    lists.head[c] = b->next;
    --lists.count[c];
    return b;
  }
  ++lists.misses;
  void* p = std::malloc(c < kClasses ? std::size_t(32) << c : bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

void give(void* p, std::size_t bytes) noexcept {
  if (!p) return;
  const std::size_t c = size_class(bytes);
  if (c >= kClasses || lists.count[c] >= kKeepPerClass) return std::free(p);
  auto* b = static_cast<FreeBlock*>(p);
  b->next = lists.head[c];
  lists.head[c] = b;
  ++lists.count[c];
}

std::size_t misses() { return lists.misses; }

}  // namespace edge::pool
