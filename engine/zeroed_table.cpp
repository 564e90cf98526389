#include "engine/zeroed_table.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace tally {
namespace {
inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;
inline constexpr std::size_t huge_page_table_min_bytes = 4 * huge_page_bytes;
}  // namespace

void* allocate_zeroed_table(std::size_t count, std::size_t size) {
  void* p = std::calloc(count, size);
  if (p == nullptr) throw std::bad_alloc();
  const std::size_t bytes = count * size;
  if (bytes >= huge_page_table_min_bytes) {
    // The 2 MiB-aligned part of the table (calloc's big blocks are fresh, untouched pages).
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / huge_page_bytes * huge_page_bytes;
    if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint
  }
  return p;
}

}  // namespace tally
