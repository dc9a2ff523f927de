// Paces a model load to a read rate: the loader thread calls pace() with the
// bytes done so far and is held back until the elapsed time matches them.
//
// Why: a load reads a whole GGUF file as fast as the disk and the memory bus
// allow, and on a shared box that competes with the models already serving
// (page cache, memory bandwidth, PCIe). An admin can cap it
// ([model_manager] load_bytes_per_s); 0 means no cap.
//
// Contract: one pacer per load, used by the one loader thread. pace() returns
// at once when the rate is 0 or `stop()` answers true; otherwise it sleeps in
// short slices (so that a stop is noticed within one slice) until
// done / rate seconds have passed since construction.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace llmd::models {

class LoadPacer {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kSlice{50};

  explicit LoadPacer(uint64_t bytes_per_s) : rate_(bytes_per_s), start_(Clock::now()) {}

  void pace(uint64_t done, const std::function<bool()>& stop) const;

  // When `done` bytes may be done at this rate (start when the rate is 0).
  Clock::time_point due(uint64_t done) const;

 private:
  uint64_t rate_;
  Clock::time_point start_;
};

}  // namespace llmd::models
