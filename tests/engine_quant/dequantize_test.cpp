// Dequantization of every block type, element by element, against
// expectations written from the format descriptions: each element's value is
// derived directly from its index (which bytes and bits hold it), independently
// of the loop structure of the implementation. Known-answer blocks pin exact
// values; random blocks cover every bit.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/quant/block_types.hpp"
#include "engine/quant/dequantize.hpp"
#include "engine/quant/fp16.hpp"
#include "engine/quant/quantize.hpp"

namespace llmd::quant {
namespace {

using gguf::GgmlType;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Puts a finite f16 scale (random, modest magnitude) at byte offset `off`.
void put_scale(std::vector<uint8_t>& blk, size_t off, std::mt19937& rng) {
  const uint16_t h = f32_to_f16(std::ldexp(static_cast<float>(rng() % 1000 + 1), -12) * ((rng() & 1) ? 1.0f : -1.0f));
  std::memcpy(blk.data() + off, &h, 2);
}

float half_at(const std::vector<uint8_t>& b, size_t off) {
  uint16_t h;
  std::memcpy(&h, b.data() + off, 2);
  return f16_to_f32(h);
}

std::vector<float> dq(GgmlType t, const std::vector<uint8_t>& b, int n) {
  std::vector<float> out(static_cast<size_t>(n), -12345.0f);
  EXPECT_TRUE(dequantize_row(t, b.data(), out.data(), n));
  return out;
}

TEST(Dequantize, Q8_0KnownAnswer) {
  std::vector<uint8_t> b(34, 0);
  const uint16_t d = 0x3800;  // 0.5
  std::memcpy(b.data(), &d, 2);
  for (int i = 0; i < 32; ++i) b[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i - 16));
  b[2 + 31] = static_cast<uint8_t>(-128);
  const auto y = dq(GgmlType::Q8_0, b, 32);
  for (int i = 0; i < 31; ++i) EXPECT_EQ(y[i], 0.5f * (i - 16)) << i;
  EXPECT_EQ(y[31], -64.0f);
}

TEST(Dequantize, Q8_0Random) {
  std::mt19937 rng(1);
  for (int rep = 0; rep < 20; ++rep) {
    auto b = random_bytes(34 * 3, rng());
    for (int blk = 0; blk < 3; ++blk) put_scale(b, 34 * blk, rng);
    const auto y = dq(GgmlType::Q8_0, b, 96);
    for (int i = 0; i < 96; ++i) {
      const size_t blk = static_cast<size_t>(i / 32);
      const float want = half_at(b, 34 * blk) * static_cast<float>(static_cast<int8_t>(b[34 * blk + 2 + i % 32]));
      EXPECT_EQ(y[static_cast<size_t>(i)], want) << i;
    }
  }
}

TEST(Dequantize, Q4_0KnownAnswer) {
  std::vector<uint8_t> b(18, 0);
  const uint16_t d = 0x4000;  // 2
  std::memcpy(b.data(), &d, 2);
  b[2] = 0xF0;   // element 0: 0 -> -8, element 16: 15 -> 7
  b[3] = 0x18;   // element 1: 8 -> 0, element 17: 1 -> -7
  const auto y = dq(GgmlType::Q4_0, b, 32);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[16], 14.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[17], -14.0f);
  EXPECT_EQ(y[2], -16.0f);  // byte 0: both nibbles 0
}

TEST(Dequantize, Q4_0Random) {
  std::mt19937 rng(2);
  for (int rep = 0; rep < 20; ++rep) {
    auto b = random_bytes(18 * 2, rng());
    put_scale(b, 0, rng);
    put_scale(b, 18, rng);
    const auto y = dq(GgmlType::Q4_0, b, 64);
    for (int i = 0; i < 64; ++i) {
      const size_t base = 18 * static_cast<size_t>(i / 32);
      const int j = i % 32;
      const uint8_t byte = b[base + 2 + static_cast<size_t>(j % 16)];
      const int nib = j < 16 ? (byte & 15) : (byte >> 4);
      EXPECT_EQ(y[static_cast<size_t>(i)], half_at(b, base) * static_cast<float>(nib - 8)) << i;
    }
  }
}

// The 6-bit scale (what = 0) or min (what = 1) of sub-block j, read bit by bit
// from the 12 packed bytes as the K-quant format lays them out.
int kq_six_bits(const uint8_t* s, int j, int what) {
  if (j < 4) return s[j + 4 * what] & 0x3f;
  const int low4 = what == 0 ? (s[j + 4] & 0x0f) : (s[j + 4] >> 4);
  const int high2 = s[j - 4 + 4 * what] >> 6;  // top bits of byte j-4 (scale) or byte j (min)
  return low4 | (high2 << 4);
}

void check_kquant(GgmlType t, uint32_t seed) {
  const bool five = t == GgmlType::Q5_K;
  const size_t bsz = five ? 176 : 144;
  const size_t qs_off = five ? 48 : 16;
  std::mt19937 rng(seed);
  for (int rep = 0; rep < 20; ++rep) {
    auto b = random_bytes(bsz * 2, rng());
    for (int blk = 0; blk < 2; ++blk) {
      put_scale(b, bsz * blk, rng);
      put_scale(b, bsz * blk + 2, rng);
    }
    const auto y = dq(t, b, 512);
    for (int i = 0; i < 512; ++i) {
      const size_t base = bsz * static_cast<size_t>(i / 256);
      const int e = i % 256;
      const int sub = e / 32;            // 8 sub-blocks of 32
      const int chunk = e / 64;          // 32 bytes of quants per 64 elements
      const bool high = (e % 64) >= 32;  // second half of a chunk uses the high nibbles
      const int l = e % 32;
      const uint8_t byte = b[base + qs_off + static_cast<size_t>(32 * chunk + l)];
      int q = high ? byte >> 4 : byte & 15;
      if (five) {
        const int bit = 2 * chunk + (high ? 1 : 0);
        q += ((b[base + 16 + static_cast<size_t>(l)] >> bit) & 1) * 16;
      }
      const float d = half_at(b, base), dmin = half_at(b, base + 2);
      const float sc = static_cast<float>(kq_six_bits(b.data() + base + 4, sub, 0));
      const float mn = static_cast<float>(kq_six_bits(b.data() + base + 4, sub, 1));
      EXPECT_EQ(y[static_cast<size_t>(i)], d * sc * static_cast<float>(q) - dmin * mn) << i;
    }
  }
}

TEST(Dequantize, Q4_KRandom) { check_kquant(GgmlType::Q4_K, 3); }
TEST(Dequantize, Q5_KRandom) { check_kquant(GgmlType::Q5_K, 4); }

TEST(Dequantize, Q4_KKnownAnswer) {
  std::vector<uint8_t> b(144, 0);
  const uint16_t one = 0x3c00, half = 0x3800;
  std::memcpy(b.data(), &one, 2);      // d = 1
  std::memcpy(b.data() + 2, &half, 2);  // dmin = 0.5
  b[4 + 0] = 3;                          // sub-block 0: scale 3
  b[4 + 4] = 2;                          // sub-block 0: min 2
  b[4 + 8] = 0x21;                       // sub-block 4: scale low 1, min low 2
  b[4 + 0] |= 0x40;                      // sub-block 4: scale high bits 01 -> 17
  b[4 + 4] |= 0x80;                      // sub-block 4: min high bits 10 -> 34
  b[16 + 0] = 0x5A;                      // element 0: 10, element 32: 5
  b[16 + 64] = 0x07;                     // element 128 (chunk 2, sub-block 4): 7
  const auto y = dq(GgmlType::Q4_K, b, 256);
  EXPECT_EQ(y[0], 1.0f * 3 * 10 - 0.5f * 2);
  EXPECT_EQ(y[32], 0.0f);  // sub-block 1 has scale 0, min 0
  EXPECT_EQ(y[1], -1.0f);  // q 0: -dmin * 2
  EXPECT_EQ(y[128], 1.0f * 17 * 7 - 0.5f * 34);
}

TEST(Dequantize, Q6_KRandom) {
  std::mt19937 rng(5);
  for (int rep = 0; rep < 20; ++rep) {
    auto b = random_bytes(210 * 2, rng());
    put_scale(b, 208, rng);
    put_scale(b, 210 + 208, rng);
    const auto y = dq(GgmlType::Q6_K, b, 512);
    for (int i = 0; i < 512; ++i) {
      const size_t base = 210 * static_cast<size_t>(i / 256);
      const int e = i % 256;
      const int half = e / 128, w = e % 128;  // weight w of half `half`
      const int quarter = w / 32, l = w % 32;
      // Low 4 bits: ql[64*half + l] for quarters 0 and 2, ql[64*half + 32 + l] for 1 and 3;
      // quarters 0 and 1 take the low nibble, 2 and 3 the high one.
      const uint8_t lbyte = b[base + static_cast<size_t>(64 * half + (quarter % 2) * 32 + l)];
      const int low = quarter < 2 ? (lbyte & 15) : (lbyte >> 4);
      // High 2 bits: bits 2*quarter of qh[32*half + l].
      const int highbits = (b[base + 128 + static_cast<size_t>(32 * half + l)] >> (2 * quarter)) & 3;
      const int q = (low | (highbits << 4)) - 32;
      const int scale = static_cast<int8_t>(b[base + 192 + static_cast<size_t>(e / 16)]);
      EXPECT_EQ(y[static_cast<size_t>(i)], half_at(b, base + 208) * static_cast<float>(scale * q)) << i;
    }
  }
}

TEST(Dequantize, FloatTypes) {
  std::vector<uint8_t> b(8);
  const uint16_t h[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
  std::memcpy(b.data(), h, 8);
  auto y = dq(GgmlType::F16, b, 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(y[3], 65504.0f);
  const uint16_t bf[4] = {0x3f80, 0xc040, 0x0000, 0x4b80};
  std::memcpy(b.data(), bf, 8);
  y = dq(GgmlType::BF16, b, 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -3.0f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[3], 16777216.0f);
}

TEST(Dequantize, RejectsBadLengthsAndTypes) {
  std::vector<uint8_t> b(1024);
  std::vector<float> y(256);
  EXPECT_FALSE(dequantize_row(GgmlType::Q8_0, b.data(), y.data(), 31));
  EXPECT_FALSE(dequantize_row(GgmlType::Q4_K, b.data(), y.data(), 128));
  EXPECT_FALSE(dequantize_row(GgmlType::Q2_K, b.data(), y.data(), 256));
  EXPECT_FALSE(dequantize_row(GgmlType::IQ4_NL, b.data(), y.data(), 32));
  EXPECT_FALSE(is_supported_weight_type(GgmlType::Q5_0));
  EXPECT_TRUE(is_supported_weight_type(GgmlType::Q6_K));
}

// Quantizers: dequantize(quantize(x)) is close to x for every supported type.
TEST(Quantize, RoundTripErrorIsBounded) {
  struct Case {
    GgmlType type;
    double max_rel_rms;
  };
  const Case cases[] = {{GgmlType::F32, 0.0},     {GgmlType::F16, 1e-3},  {GgmlType::BF16, 5e-3},
                        {GgmlType::Q8_0, 0.01},   {GgmlType::Q4_0, 0.15}, {GgmlType::Q4_K, 0.15},
                        {GgmlType::Q5_K, 0.08},   {GgmlType::Q6_K, 0.04}};
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(1024);
  for (auto& v : x) v = nd(rng);
  for (const Case& c : cases) {
    std::vector<uint8_t> q(*gguf::ggml_row_bytes(c.type, x.size()));
    ASSERT_TRUE(quantize_row(c.type, x.data(), q.data(), static_cast<int64_t>(x.size())));
    std::vector<float> y(x.size());
    ASSERT_TRUE(dequantize_row(c.type, q.data(), y.data(), static_cast<int64_t>(x.size())));
    double err = 0, norm = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (x[i] - y[i]) * (x[i] - y[i]);
      norm += x[i] * x[i];
    }
    EXPECT_LE(std::sqrt(err / norm), c.max_rel_rms) << gguf::ggml_type_name(c.type);
  }
}

}  // namespace
}  // namespace llmd::quant
