#include "models/load_pacer.hpp"

#include <algorithm>
#include <thread>

namespace llmd::models {

LoadPacer::Clock::time_point LoadPacer::due(uint64_t done) const {
  if (rate_ == 0) return start_;
  const double seconds = static_cast<double>(done) / static_cast<double>(rate_);
  return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

void LoadPacer::pace(uint64_t done, const std::function<bool()>& stop) const {
  if (rate_ == 0) return;
  const Clock::time_point until = due(done);
  for (Clock::time_point now = Clock::now(); now < until; now = Clock::now()) {
    if (stop && stop()) return;
    std::this_thread::sleep_for(std::min<Clock::duration>(until - now, kSlice));
  }
}

}  // namespace llmd::models
