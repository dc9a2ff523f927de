// Rng: the sampler's pseudo-random generator, a fixed algorithm so that a seed
// reproduces the same draws on every build, compiler and machine.
//
// Algorithm: xoshiro256** (Blackman and Vigna, 2018) for the 64-bit stream; its
// 256-bit state is filled from the 64-bit seed by four successive outputs of
// splitmix64. uniform() turns the top 53 bits of one output into a double in
// [0, 1) (a multiple of 2^-53), so no library distribution is involved.
#pragma once

#include <cstdint>

namespace llmd::engine {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& word : state_) word = splitmix64(&x);
  }

  // Next 64 random bits.
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform double in [0, 1): k * 2^-53 for a uniform 53-bit k.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // One step of splitmix64: advances *x and returns a well-mixed value of it.
  static uint64_t splitmix64(uint64_t* x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t rotl(uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }

  uint64_t state_[4];
};

}  // namespace llmd::engine
