// A per-thread pool for the small blocks a proxy allocates and frees on every request (HTTP
// header fields, mostly): freed blocks wait on a free list of their size class and serve the
// next request, so a thread in steady state calls malloc for none of them. Stateless, so
// containers that use it stay as small as with std::allocator. A block freed on another
// thread than the one that took it joins that thread's lists (fine: the pool only caches).
#pragma once
#include <cstddef>

namespace edge {
namespace pool {
void* take(std::size_t bytes);
void give(void* p, std::size_t bytes) noexcept;
// Blocks allocated from malloc by this thread so far (for tests that assert a path is
// allocation-free once warm).
std::size_t misses();
}  // namespace pool

template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() noexcept = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(pool::take(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { pool::give(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const PoolAllocator<U>&) const noexcept { return false; }
};

}  // namespace edge
