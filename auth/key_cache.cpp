#include "auth/key_cache.hpp"

namespace llmd::auth {

namespace {
bool fresh(int64_t stored_at, int64_t now_ms, int64_t ttl_ms) {
  return now_ms >= stored_at && now_ms - stored_at < ttl_ms;
}
}  // namespace

std::optional<CachedKey> KeyCache::get(std::string_view key_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  const std::string id(key_id);
  for (Slots* slots : {&slots_, &unknown_}) {
    auto it = slots->find(id);
    if (it == slots->end()) continue;
    if (!fresh(it->second.stored_at, now_ms, ttl_ms_)) {
      slots->erase(it);
      return std::nullopt;
    }
    return it->second.entry;
  }
  return std::nullopt;
}

void KeyCache::make_room(Slots& slots, size_t max, int64_t now_ms) {
  if (slots.size() < max) return;
  std::erase_if(slots, [&](const auto& kv) { return !fresh(kv.second.stored_at, now_ms, ttl_ms_); });
  if (slots.size() >= max && !slots.empty()) slots.erase(slots.begin());
}

void KeyCache::put(const std::string& key_id, CachedKey entry, int64_t now_ms) {
  if (ttl_ms_ <= 0) return;
  std::lock_guard lock(mu_);
  Slots& slots = entry.exists ? slots_ : unknown_;
  Slots& other = entry.exists ? unknown_ : slots_;
  const size_t max = entry.exists ? max_entries_ : max_unknown_;
  if (max == 0) return;
  other.erase(key_id);
  if (slots.find(key_id) == slots.end()) make_room(slots, max, now_ms);
  slots[key_id] = Slot{std::move(entry), now_ms};
}

void KeyCache::forget(std::string_view key_id) {
  std::lock_guard lock(mu_);
  slots_.erase(std::string(key_id));
  unknown_.erase(std::string(key_id));
}

void KeyCache::forget_all() {
  std::lock_guard lock(mu_);
  slots_.clear();
  unknown_.clear();
}

size_t KeyCache::known_size() const {
  std::lock_guard lock(mu_);
  return slots_.size();
}

size_t KeyCache::unknown_size() const {
  std::lock_guard lock(mu_);
  return unknown_.size();
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
