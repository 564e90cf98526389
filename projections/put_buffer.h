// PutBuffer: the key/value pairs one batch writes into one LMDB database, in one arena (no
// allocation per entry once warmed up). The projector's fold fills them; its writer thread puts
// them (projections/projector_impl.h).
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
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
    assert(key.size() <= std::numeric_limits<uint32_t>::max() && value.size() <= std::numeric_limits<uint32_t>::max());
    entries_.push_back(Entry{arena_.size(), static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())});
    arena_.append(key).append(value);
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Sorts by key (stable: equal keys keep insertion order).
  //
  // Keys of the projector's big views start with an org id and a NUL (history, usage roll-ups),
  // and the org ids are long next to what follows them, so comparing whole keys mostly compares
  // equal org ids, reading both keys from the arena. Instead, a key is split at its first NUL into
  // a head and a tail (from the NUL on). Heads order as the keys do (a head holds no NUL, and a
  // shorter head is followed by NUL or nothing). The distinct heads are ranked once, and an entry
  // carries its head's rank and its tail's first 16 bytes. The entries are then distributed by
  // rank (a counting sort, stable), and each head's few entries sorted by tail: nearly every
  // comparison is settled in the entries, without the arena (and history entries, added in
  // sequence order per org, are already sorted).
  void sort_by_key();
  // After sort_by_key: calls f(key, value, run) for each entry in order until f returns non-zero;
  // returns that or 0. `run` says whether the entry continues the previous entry's head or key.
  struct Run {
    bool same_head = false;
    bool same_key = false;
  };
  template <typename F>
  int for_each_sorted(F&& f) const {
    const Entry* previous = nullptr;
    for (const Entry& e : entries_) {
      Run run;
      if (previous != nullptr && previous->rank == e.rank) {
        run.same_head = true;
        run.same_key = previous->key_size == e.key_size && previous->tail[0] == e.tail[0] &&
                       previous->tail[1] == e.tail[1] &&
                       (e.key_size <= e.head_size + 16 ||
                        key(*previous).substr(e.head_size + 16) == key(e).substr(e.head_size + 16));
      }
      if (int rc = f(key(e), value(e), run); rc != 0) return rc;
      previous = &e;
    }
    return 0;
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
    uint32_t key_size;
    uint32_t value_size;
    uint32_t head_size = 0;  // bytes before the key's first NUL (set by sort_by_key)
    uint32_t rank = 0;       // of the head among the buffer's heads (set by sort_by_key)
    uint64_t tail[2] = {};   // the tail's first 16 bytes, big-endian, zero-padded (set by sort_by_key)
  };
  static uint64_t big_endian_word(std::string_view bytes) {
    unsigned char b[8] = {};
    if (!bytes.empty()) std::memcpy(b, bytes.data(), std::min<std::size_t>(bytes.size(), 8));
    uint64_t word = 0;
    for (unsigned char c : b) word = word << 8 | c;
    return word;
  }
  std::string_view key(const Entry& e) const { return std::string_view(arena_).substr(e.offset, e.key_size); }
  std::string_view value(const Entry& e) const {
    return std::string_view(arena_).substr(e.offset + e.key_size, e.value_size);
  }
  std::string arena_;
  std::vector<Entry> entries_;
  // sort_by_key scratch: the distinct heads, an open-addressing table of indexes into them, ranks.
  std::vector<std::string_view> heads_;
  std::vector<uint32_t> head_table_;
  std::vector<uint32_t> head_rank_;
  std::vector<Entry> sorted_;
};

inline void PutBuffer::sort_by_key() {
  if (entries_.size() < 2) return;
  heads_.clear();
  const std::size_t slots = std::bit_ceil(entries_.size() * 2);
  head_table_.assign(slots, UINT32_MAX);
  for (Entry& e : entries_) {
    const std::string_view k = key(e);
    const void* nul = k.empty() ? nullptr : std::memchr(k.data(), '\0', k.size());
    e.head_size = nul ? static_cast<uint32_t>(static_cast<const char*>(nul) - k.data()) : e.key_size;
    const std::string_view head = k.substr(0, e.head_size);
    std::size_t i = std::hash<std::string_view>{}(head) & (slots - 1);
    while (head_table_[i] != UINT32_MAX && heads_[head_table_[i]] != head) i = (i + 1) & (slots - 1);
    if (head_table_[i] == UINT32_MAX) {
      head_table_[i] = static_cast<uint32_t>(heads_.size());
      heads_.push_back(head);
    }
    e.rank = head_table_[i];  // an index into heads_ until the heads are ranked
    const std::string_view tail = k.substr(e.head_size);
    e.tail[0] = big_endian_word(tail);
    e.tail[1] = tail.size() > 8 ? big_endian_word(tail.substr(8)) : 0;
  }
  // Rank the heads: head_rank_[index into heads_] = position in key order.
  std::vector<uint32_t>& order = head_table_;  // reused: the table is done
  order.resize(heads_.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) { return heads_[a] < heads_[b]; });
  head_rank_.resize(heads_.size());
  for (uint32_t r = 0; r < order.size(); ++r) head_rank_[order[r]] = r;
  // Counting sort by rank (stable), then each head's entries by tail.
  std::vector<uint32_t>& starts = head_table_;  // reused again: starts[rank] in sorted_
  starts.assign(heads_.size() + 1, 0);
  for (Entry& e : entries_) {
    e.rank = head_rank_[e.rank];
    ++starts[e.rank + 1];
  }
  for (std::size_t r = 1; r < starts.size(); ++r) starts[r] += starts[r - 1];
  sorted_.resize(entries_.size());
  for (const Entry& e : entries_) sorted_[starts[e.rank]++] = e;  // starts[r] ends as the start of r + 1
  entries_.swap(sorted_);
  const auto by_tail = [this](const Entry& a, const Entry& b) {
    if (a.tail[0] != b.tail[0]) return a.tail[0] < b.tail[0];
    if (a.tail[1] != b.tail[1]) return a.tail[1] < b.tail[1];
    // Same first 16 tail bytes (or a shorter tail hidden by the padding): the rest.
    const std::string_view ta = key(a).substr(a.head_size), tb = key(b).substr(b.head_size);
    if (const int c = ta.compare(tb); c != 0) return c < 0;
    return a.offset < b.offset;  // insertion order
  };
  for (std::size_t begin = 0; begin < entries_.size();) {
    std::size_t end = begin + 1;
    while (end < entries_.size() && entries_[end].rank == entries_[begin].rank) ++end;
    const auto first = entries_.begin() + static_cast<std::ptrdiff_t>(begin);
    const auto last = entries_.begin() + static_cast<std::ptrdiff_t>(end);
    if (!std::is_sorted(first, last, by_tail)) std::sort(first, last, by_tail);
    begin = end;
  }
}

}  // namespace tally
