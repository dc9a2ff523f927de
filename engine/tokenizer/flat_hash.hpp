// Open-addressing hash tables for the tokenizers' hot lookups (token text ->
// id, and merge pair -> rank): one flat array each, linear probing, no
// per-entry allocation. Built once at load time, read-only afterwards.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace llmd::engine {

// A fast 64-bit hash of a byte string (8 bytes at a time, multiply-xorshift).
inline uint64_t hash_bytes(std::string_view s) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (s.size() * kMul);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = (h ^ v) * kMul;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}

inline size_t table_size_for(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;  // load factor at most 1/2
  return cap;
}

// Maps the texts of a fixed list of strings to their indices.
class StringIndex {
 public:
  // The strings the views point to must outlive the index. The first of
  // equal texts wins.
  void build(std::vector<std::string_view> views) {
    views_ = std::move(views);
    slots_.assign(table_size_for(views_.size()), Slot{0, -1});
    mask_ = slots_.size() - 1;
    duplicates_ = 0;
    for (size_t i = 0; i < views_.size(); ++i) insert(static_cast<int32_t>(i));
  }

  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_bytes(s);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (slot.tag == tag && views_[static_cast<size_t>(slot.id)] == s) return slot.id;
    }
  }

  size_t duplicates() const { return duplicates_; }

 private:
  struct Slot {
    uint32_t tag;
    int32_t id;
  };
  void insert(int32_t id) {
    const std::string_view s = views_[static_cast<size_t>(id)];
    const uint64_t h = hash_bytes(s);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot = Slot{tag, id};
        return;
      }
      if (slot.tag == tag && views_[static_cast<size_t>(slot.id)] == s) {
        ++duplicates_;
        return;
      }
    }
  }

  std::vector<Slot> slots_;
  std::vector<std::string_view> views_;
  size_t mask_ = 0;
  size_t duplicates_ = 0;
};

// Maps a pair of 32-bit ids to a (rank, result) value.
class PairMap {
 public:
  struct Value {
    int32_t rank;
    int32_t result;
  };

  // Sizes the table for `n` entries; call before inserting (no rehashing).
  void reserve(size_t n) {
    slots_.assign(table_size_for(n), Slot{kEmpty, {0, 0}});
    mask_ = slots_.size() - 1;
    size_ = 0;
  }

  // Keeps the first value inserted for a key; ignored once the table is
  // half full (reserve() sizes it for what will be inserted).
  void insert(int32_t a, int32_t b, Value v) {
    if (slots_.empty() || (size_ + 1) * 2 > slots_.size()) return;
    const uint64_t k = key(a, b);
    for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == kEmpty) {
        s = Slot{k, v};
        ++size_;
        return;
      }
      if (s.key == k) return;
    }
  }

  const Value* find(int32_t a, int32_t b) const {
    if (slots_.empty()) return nullptr;
    const uint64_t k = key(a, b);
    for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == k) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key;
    Value value;
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return k;
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace llmd::engine
