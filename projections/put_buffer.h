// PutBuffer: the key/value pairs one batch writes into one LMDB database, in one arena (no
// allocation per entry once warmed up). The projector's fold fills them; its writer thread puts
// them (projections/projector_impl.h).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tally {

class PutBuffer {
 public:
  void clear() {
    arena_.clear();
    entries_.clear();
  }
  void add(std::string_view key, std::string_view value) {
    entries_.push_back(Entry{arena_.size(), key.size(), value.size()});
    arena_.append(key).append(value);
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Sorts by key (stable: equal keys keep insertion order).
  void sort_by_key() {
    std::stable_sort(entries_.begin(), entries_.end(),
                     [this](const Entry& a, const Entry& b) { return key(a) < key(b); });
  }
  // Calls f(key, value) for each entry in order until f returns non-zero; returns that or 0.
  template <typename F>
  int for_each(F&& f) const {
    for (const Entry& e : entries_) {
      if (int rc = f(key(e), value(e)); rc != 0) return rc;
    }
    return 0;
  }

 private:
  struct Entry {
    std::size_t offset;
    std::size_t key_size;
    std::size_t value_size;
  };
  std::string_view key(const Entry& e) const { return std::string_view(arena_).substr(e.offset, e.key_size); }
  std::string_view value(const Entry& e) const {
    return std::string_view(arena_).substr(e.offset + e.key_size, e.value_size);
  }
  std::string arena_;
  std::vector<Entry> entries_;
};

}  // namespace tally
