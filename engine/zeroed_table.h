// Big hash tables (KeyIndex, KeyLocator) come zeroed from calloc: no pass to fill them, and big
// ones are fresh pages. Tables of 8 MiB and more ask for transparent huge pages (madvise: a hint,
// not an error if refused): with 4 KiB pages every probe into a big table also missed the TLB, and
// even a prefetch waited for that page walk.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace tally {

struct FreeZeroedTable {
  void operator()(void* table) const { std::free(table); }
};

// `count` zeroed elements of `size` bytes; throws std::bad_alloc if there is no memory.
void* allocate_zeroed_table(std::size_t count, std::size_t size);

// A zeroed array of `count` T (T must be an aggregate whose all-zero bytes are a valid value).
template <typename T>
std::unique_ptr<T[], FreeZeroedTable> make_zeroed_table(std::size_t count) {
  return std::unique_ptr<T[], FreeZeroedTable>(static_cast<T*>(allocate_zeroed_table(count, sizeof(T))));
}

}  // namespace tally
