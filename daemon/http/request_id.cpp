#include "daemon/http/request_id.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <random>

namespace llmd::http {

namespace {

std::uint64_t mix(std::uint64_t x) {
  // splitmix64 finaliser: a bijection, so distinct counters give distinct ids.
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::uint64_t process_seed() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

std::string new_request_id() {
  static const std::uint64_t seed = process_seed();
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t v = mix(seed + counter.fetch_add(1, std::memory_order_relaxed));
  char buf[24];
  std::snprintf(buf, sizeof buf, "req_%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace llmd::http
