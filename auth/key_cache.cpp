#include "auth/key_cache.hpp"

namespace llmd::auth {

std::optional<CachedKey> KeyCache::get(std::string_view key_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(std::string(key_id));
  if (it == slots_.end()) return std::nullopt;
  if (now_ms - it->second.stored_at >= ttl_ms_ || now_ms < it->second.stored_at) {
    slots_.erase(it);
    return std::nullopt;
  }
  return it->second.entry;
}

void KeyCache::put(const std::string& key_id, CachedKey entry, int64_t now_ms) {
  if (ttl_ms_ <= 0) return;
  std::lock_guard lock(mu_);
  if (slots_.size() >= max_entries_ && slots_.find(key_id) == slots_.end()) {
    // Drop stale entries; if all are fresh (a flood of distinct ids), start over.
    std::erase_if(slots_, [&](const auto& kv) { return now_ms - kv.second.stored_at >= ttl_ms_; });
    if (slots_.size() >= max_entries_) slots_.clear();
  }
  slots_[key_id] = Slot{std::move(entry), now_ms};
}

void KeyCache::forget(std::string_view key_id) {
  std::lock_guard lock(mu_);
  slots_.erase(std::string(key_id));
}

void KeyCache::forget_all() {
  std::lock_guard lock(mu_);
  slots_.clear();
}

bool KeyCache::due_for_touch(std::string_view key_id, int64_t now_ms, int64_t interval_ms) {
  std::lock_guard lock(mu_);
  if (touched_.size() >= max_entries_) touched_.clear();
  auto [it, inserted] = touched_.try_emplace(std::string(key_id), now_ms);
  if (inserted) return true;
  if (now_ms - it->second < interval_ms) return false;
  it->second = now_ms;
  return true;
}

}  // namespace llmd::auth
