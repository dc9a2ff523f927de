// The unit decoding the CUDA GEMVs over quantized weights are built from
// (engine/quant/device_units.hpp), run on the host: walking a matrix's device
// layout unit by unit, with the same fetch, decode and prepare functions the
// kernels call, gives every weight of every row bit for bit as
// dequantize_device_row does, for random blocks (every value, scale and min
// bit pattern); and a product built from the units' group dots, as the
// kernels build it, matches a float64 product of the dequantized weights. (On
// the device the compiler may fuse scale * q - min into one rounding: the
// kernels' tests allow for that, these check the decoding exactly.)
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

// y[r] = W[r] . x as the kernels form it: group dots summed in float per unit.
template <class U>
std::vector<float> product_from_units(const Matrix& m, const std::vector<float>& x) {
  const int64_t k = m.layout.cols;
  const PlaneOffsets p = plane_offsets(m.layout);
  std::vector<float> y(static_cast<size_t>(m.layout.rows));
  for (int64_t r = 0; r < m.layout.rows; ++r) {
    float acc = 0.0f;
    for (int64_t u = 0; u < U::units_per_row(k); ++u) {
      typename U::Bytes b;
      U::template fetch<HostLoad>(m.bytes.data, p, r, k, u, b);
      for (int g = 0; g < U::kGroups; ++g) {
        DecodedGroup d;
        U::decode(b, u, g, d);
        prepare_group<U::kHasMin>(d);
        float xs[16];
        std::memcpy(xs, x.data() + U::group_offset(u, g), sizeof xs);
        acc += group_dot(d, xs);
      }
    }
    y[static_cast<size_t>(r)] = acc;
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

TEST(DeviceUnits, ProductMatchesFloat64ProductOfTheDequantizedWeights) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(std::string(gguf::ggml_type_name(type)));
    const int64_t rows = 9, cols = 14 * block_elems(type);
    const Matrix m = random_matrix(type, rows, cols, rng);
    std::vector<float> x(static_cast<size_t>(cols));
    for (float& v : x) v = normal(rng);
    const std::vector<float> y = with_unit_type(type, std::vector<float>{}, [&](auto unit) {
      return product_from_units<decltype(unit)>(m, x);
    });
    ASSERT_EQ(y.size(), static_cast<size_t>(rows));
    std::vector<float> w(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_device_row(m.layout, m.bytes.data, r, w.data());
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < cols; ++i) {
        ref += static_cast<double>(w[i]) * x[i];
        mag += std::fabs(static_cast<double>(w[i]) * x[i]);
      }
      // Float accumulation over a few thousand products: far below this bound;
      // a wrong nibble, scale or min moves a row by a sizeable part of mag.
      EXPECT_LE(std::fabs(y[static_cast<size_t>(r)] - ref), 1e-5 * mag) << "row " << r;
    }
  }
}

}  // namespace
}  // namespace llmd::quant
