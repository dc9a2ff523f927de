// The unit decoding the CUDA GEMVs over quantized weights are built from
// (engine/quant/device_units.hpp), run on the host: walking a matrix's device
// layout unit by unit, with the same fetch, decode and prepare functions the
// kernels call, gives every weight of every row bit for bit as
// dequantize_device_row does, for random blocks (every value, scale and min
// bit pattern); and products with several tokens built by lane_dots in 32
// lanes, as the kernels' warps build them, match a float64 product of the
// dequantized weights. (On the device the compiler may fuse scale * q - min
// into one rounding: the kernels' tests allow for that, these check the
// decoding exactly.)
#include "engine/quant/device_units.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/dequantize.hpp"
#include "tests/engine_quant/random_blocks.hpp"

namespace llmd::quant {
namespace {

using gguf::GgmlType;

// Loads as the kernels make them, from host memory; each checks the alignment
// the kernels' vector loads need.
struct HostLoad {
  static void load16(const uint8_t* p, uint32_t out[4]) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    std::memcpy(out, p, 16);
  }
  static void load8(const uint8_t* p, uint32_t out[2]) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 8, 0u);
    std::memcpy(out, p, 8);
  }
  static uint32_t load2(const uint8_t* p) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 2, 0u);
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
};

// Device-layout bytes at a 16-byte aligned address, as cudaMalloc gives them.
struct AlignedBytes {
  explicit AlignedBytes(size_t n) : buf(n + 16) {
    const auto addr = reinterpret_cast<uintptr_t>(buf.data());
    data = buf.data() + (16 - addr % 16) % 16;
  }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  AlignedBytes(AlignedBytes&&) = default;  // the vector's storage, and so `data`, moves with it
  AlignedBytes& operator=(AlignedBytes&&) = default;
  std::vector<uint8_t> buf;
  uint8_t* data;
};

struct Matrix {
  DeviceLayout layout;
  AlignedBytes bytes{0};
};

Matrix random_matrix(GgmlType type, int64_t rows, int64_t cols, std::mt19937_64& rng) {
  Matrix m;
  auto l = device_layout(type, rows, cols);
  EXPECT_TRUE(l) << l.error().message;
  m.layout = *l;
  const std::vector<uint8_t> file = test::random_blocks(type, rows, cols, rng);
  EXPECT_EQ(file.size(), m.layout.file_bytes());
  m.bytes = AlignedBytes(m.layout.total_bytes);
  to_device_layout(m.layout, file.data(), m.bytes.data);
  return m;
}

// Row `row` as the units give it, decoded (prepared = false) or readied for
// the kernels' dot products (prepared = true, weight = scale * q); weights no
// unit covers stay NaN.
template <class U>
std::vector<float> row_from_units(const Matrix& m, int64_t row, bool prepared) {
  const int64_t k = m.layout.cols;
  std::vector<float> out(static_cast<size_t>(k), std::numeric_limits<float>::quiet_NaN());
  const PlaneOffsets p = plane_offsets(m.layout);
  for (int64_t u = 0; u < U::units_per_row(k); ++u) {
    typename U::Bytes b;
    U::template fetch<HostLoad>(m.bytes.data, p, row, k, u, b);
    for (int g = 0; g < U::kGroups; ++g) {
      DecodedGroup d;
      U::decode(b, u, g, d);
      if (prepared) prepare_group<U::kHasMin>(d);
      for (int j = 0; j < 16; ++j) {
        out[static_cast<size_t>(U::group_offset(u, g) + j)] =
            prepared ? d.scale * d.q[j] : unit_weight<U::kHasMin>(d.scale, d.q[j], d.min);
      }
    }
  }
  return out;
}

// y[t][r] = W[r] . x[t] for NT tokens as the kernels form it: lane_dots in
// each of 32 lanes, the lanes' sums added.
template <class U, int NT>
std::vector<float> product_from_units(const Matrix& m, const std::vector<float>& x) {
  const int64_t k = m.layout.cols, rows = m.layout.rows;
  const PlaneOffsets p = plane_offsets(m.layout);
  const auto load_x = [&](int t, int64_t i, float(&xs)[16]) {
    std::memcpy(xs, x.data() + static_cast<size_t>(t * k + i), sizeof xs);
  };
  std::vector<float> y(static_cast<size_t>(NT * rows), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int lane = 0; lane < 32; ++lane) {
      float acc[NT] = {};
      lane_dots<U, NT, HostLoad>(m.bytes.data, p, r, k, lane, 32, load_x, acc);
      for (int t = 0; t < NT; ++t) y[static_cast<size_t>(t * rows + r)] += acc[t];
    }
  }
  return y;
}

const GgmlType kTypes[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

TEST(DeviceUnits, EveryTypeHasAUnit) {
  for (GgmlType type : kTypes) {
    EXPECT_TRUE(with_unit_type(type, false, [&](auto unit) {
      using U = decltype(unit);
      return U::kBlockWeights == block_elems(type) && U::kWeights == 16 * U::kGroups;
    })) << gguf::ggml_type_name(type);
  }
  EXPECT_FALSE(with_unit_type(GgmlType::F16, false, [](auto) { return true; }));
}

TEST(DeviceUnits, RowsDecodeBitForBitAsDequantizeDeviceRow) {
  std::mt19937_64 rng(20261207);
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(std::string(gguf::ggml_type_name(type)));
    const int64_t bw = block_elems(type);
    for (const int64_t blocks : {1, 3, 8}) {
      const int64_t rows = 5, cols = blocks * bw;
      const Matrix m = random_matrix(type, rows, cols, rng);
      std::vector<float> want(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_device_row(m.layout, m.bytes.data, r, want.data());
        for (const bool prepared : {false, true}) {
          const std::vector<float> got = with_unit_type(type, std::vector<float>{}, [&](auto unit) {
            return row_from_units<decltype(unit)>(m, r, prepared);
          });
          ASSERT_EQ(got.size(), want.size());
          for (size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(f32_to_bits(got[i]), f32_to_bits(want[i]))
                << (prepared ? "prepared " : "") << "cols " << cols << " row " << r << " weight " << i << ": "
                << got[i] << " vs " << want[i];
          }
        }
      }
    }
  }
}

// dequantize_unit, which the kernels copying quantized rows into dense ones
// run once per unit, gives every weight of a row exactly once, as
// dequantize_device_row gives it.
TEST(DeviceUnits, DequantizedUnitsCoverTheRowBitForBit) {
  std::mt19937_64 rng(41);
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(std::string(gguf::ggml_type_name(type)));
    const int64_t rows = 4, cols = 3 * block_elems(type);
    const Matrix m = random_matrix(type, rows, cols, rng);
    const PlaneOffsets p = plane_offsets(m.layout);
    std::vector<float> want(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_device_row(m.layout, m.bytes.data, r, want.data());
      std::vector<float> got(static_cast<size_t>(cols), std::numeric_limits<float>::quiet_NaN());
      std::vector<int> seen(static_cast<size_t>(cols), 0);
      with_unit_type(type, 0, [&](auto unit) {
        using U = decltype(unit);
        for (int64_t u = 0; u < U::units_per_row(cols); ++u) {
          dequantize_unit<U, HostLoad>(m.bytes.data, p, r, cols, u, [&](int64_t i, float v) {
            got[static_cast<size_t>(i)] = v;
            ++seen[static_cast<size_t>(i)];
          });
        }
        return 0;
      });
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(seen[i], 1) << "row " << r << " weight " << i;
        ASSERT_EQ(f32_to_bits(got[i]), f32_to_bits(want[i])) << "row " << r << " weight " << i;
      }
    }
  }
}

void check_product(GgmlType type, int64_t blocks, std::mt19937_64& rng) {
  constexpr int kTokens = 3;
  const int64_t rows = 9, cols = blocks * block_elems(type);
  SCOPED_TRACE(std::string(gguf::ggml_type_name(type)) + " cols " + std::to_string(cols));
  const Matrix m = random_matrix(type, rows, cols, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(kTokens * cols));
  for (float& v : x) v = normal(rng);
  const std::vector<float> y = with_unit_type(type, std::vector<float>{}, [&](auto unit) {
    return product_from_units<decltype(unit), kTokens>(m, x);
  });
  ASSERT_EQ(y.size(), static_cast<size_t>(kTokens * rows));
  std::vector<float> w(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_device_row(m.layout, m.bytes.data, r, w.data());
    for (int t = 0; t < kTokens; ++t) {
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const double prod = static_cast<double>(w[static_cast<size_t>(i)]) * x[static_cast<size_t>(t * cols + i)];
        ref += prod;
        mag += std::fabs(prod);
      }
      // Float accumulation over thousands of products stays far below this
      // bound; a wrong nibble, scale, min or activation moves an output by a
      // sizeable part of mag.
      EXPECT_LE(std::fabs(y[static_cast<size_t>(t * rows + r)] - ref), 1e-5 * mag) << "token " << t << " row " << r;
    }
  }
}

// The RMSNorm folded in (NormedX): 32 lanes' products of the f32 residual
// times the norm's weights, scaled by rms_scale of their summed squares,
// match float64 products with the normalised rows.
void check_normed_product(GgmlType type, int64_t blocks, std::mt19937_64& rng) {
  constexpr int kTokens = 2;
  const int64_t rows = 7, cols = blocks * block_elems(type);
  SCOPED_TRACE(std::string(gguf::ggml_type_name(type)) + " normed, cols " + std::to_string(cols));
  const Matrix m = random_matrix(type, rows, cols, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  AlignedBytes xb(static_cast<size_t>(kTokens * cols) * 4), wb(static_cast<size_t>(cols) * 4);
  auto* x = reinterpret_cast<float*>(xb.data);
  auto* nw = reinterpret_cast<float*>(wb.data);
  for (int64_t i = 0; i < kTokens * cols; ++i) x[i] = 3.0f * normal(rng);
  for (int64_t i = 0; i < cols; ++i) nw[i] = 1.0f + 0.5f * normal(rng);
  constexpr float kEps = 1e-5f;
  const PlaneOffsets p = plane_offsets(m.layout);
  std::vector<float> w(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    float acc[kTokens] = {}, ss[kTokens] = {};
    for (int lane = 0; lane < 32; ++lane) {
      float lacc[kTokens] = {}, lss[kTokens] = {};
      with_unit_type(type, 0, [&](auto unit) {
        lane_dots<decltype(unit), kTokens, HostLoad>(m.bytes.data, p, r, cols, lane, 32,
                                                     NormedX<HostLoad>{x, nw, cols, lss}, lacc);
        return 0;
      });
      for (int t = 0; t < kTokens; ++t) acc[t] += lacc[t], ss[t] += lss[t];
    }
    dequantize_device_row(m.layout, m.bytes.data, r, w.data());
    for (int t = 0; t < kTokens; ++t) {
      const float* xt = x + t * cols;
      double sq = 0;
      for (int64_t i = 0; i < cols; ++i) sq += static_cast<double>(xt[i]) * xt[i];
      // Every column's square counted once.
      EXPECT_NEAR(ss[t], sq, 1e-5 * sq) << "token " << t << " row " << r;
      const double inv_rms = 1.0 / std::sqrt(sq / static_cast<double>(cols) + kEps);
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const double prod = static_cast<double>(w[static_cast<size_t>(i)]) * xt[i] * nw[i] * inv_rms;
        ref += prod;
        mag += std::fabs(prod);
      }
      const float got = acc[t] * rms_scale(ss[t], cols, kEps);
      EXPECT_LE(std::fabs(got - ref), 1e-5 * mag) << "token " << t << " row " << r;
    }
  }
}

TEST(DeviceUnits, NormedProductMatchesFloat64ProductOfTheNormalisedRows) {
  std::mt19937_64 rng(11);
  for (GgmlType type : kTypes) {
    for (const int64_t blocks : {5, 46}) check_normed_product(type, blocks, rng);
  }
}

TEST(DeviceUnits, ProductMatchesFloat64ProductOfTheDequantizedWeights) {
  std::mt19937_64 rng(7);
  for (GgmlType type : kTypes) {
    // 5 to 184 units a row: lanes with none, one, two or more.
    for (const int64_t blocks : {5, 14, 46}) check_product(type, blocks, rng);
  }
}

}  // namespace
}  // namespace llmd::quant
