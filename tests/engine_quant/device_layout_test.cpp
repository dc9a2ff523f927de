// The device layout of quantized matrices (engine/quant/device_layout.hpp):
// the file's bytes come back unchanged, every row dequantizes from it to what
// the file's blocks give, planes are aligned and do not overlap, and nothing
// but alignment is added.
#include "engine/quant/device_layout.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "engine/quant/dequantize.hpp"
#include "engine/quant/quantize.hpp"

namespace llmd::quant {
namespace {

using gguf::GgmlType;

// A rows x cols matrix of `type` quantized from random values.
std::vector<uint8_t> random_matrix(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const uint64_t row_bytes = *gguf::ggml_row_bytes(type, static_cast<uint64_t>(cols));
  std::vector<uint8_t> m(static_cast<size_t>(row_bytes * static_cast<uint64_t>(rows)));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    EXPECT_TRUE(quantize_row(type, row.data(), m.data() + r * row_bytes, cols));
  }
  return m;
}

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                           GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

TEST(DeviceLayout, RoundTripAndRowsDequantizeAsTheFileDoes) {
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(std::string(gguf::ggml_type_name(type)));
    const int64_t rows = 7, cols = 512;
    auto layout = device_layout(type, rows, cols);
    ASSERT_TRUE(layout) << layout.error().message;
    const std::vector<uint8_t> file = random_matrix(type, rows, cols, 11);
    ASSERT_EQ(file.size(), layout->file_bytes());
    std::vector<uint8_t> dev(layout->total_bytes, 0xAB), back(file.size());
    to_device_layout(*layout, file.data(), dev.data());
    from_device_layout(*layout, dev.data(), back.data());
    EXPECT_EQ(back, file);
    const uint64_t row_bytes = file.size() / rows;
    std::vector<float> want(static_cast<size_t>(cols)), got(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(dequantize_row(type, file.data() + r * row_bytes, want.data(), cols));
      dequantize_device_row(*layout, dev.data(), r, got.data());
      ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << "row " << r;
    }
  }
}

// Tensors stacked by rows (q | k | v) and uploaded in chunks of rows, each
// chunk laid out on its own and copied plane by plane to plane_rows_offset,
// give the bytes of the stacked matrix laid out whole.
TEST(DeviceLayout, ChunksOfStackedRowsLandWhereTheWholeMatrixHasThem) {
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(std::string(gguf::ggml_type_name(type)));
    const int64_t cols = 512;
    const int64_t part_rows[] = {5, 3, 7};
    const uint64_t row_bytes = *gguf::ggml_row_bytes(type, static_cast<uint64_t>(cols));
    std::vector<std::vector<uint8_t>> parts;
    std::vector<uint8_t> stacked;
    for (int64_t rows : part_rows) {
      parts.push_back(random_matrix(type, rows, cols, static_cast<uint32_t>(rows)));
      stacked.insert(stacked.end(), parts.back().begin(), parts.back().end());
    }
    auto whole = device_layout(type, 15, cols);
    ASSERT_TRUE(whole) << whole.error().message;
    std::vector<uint8_t> want(whole->total_bytes), got(whole->total_bytes, 0);
    to_device_layout(*whole, stacked.data(), want.data());
    int64_t row0 = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      for (int64_t r = 0; r < part_rows[i]; r += 2) {
        const int64_t n = std::min<int64_t>(2, part_rows[i] - r);
        auto chunk = device_layout(type, n, cols);
        ASSERT_TRUE(chunk);
        std::vector<uint8_t> staged(chunk->total_bytes);
        to_device_layout(*chunk, parts[i].data() + r * row_bytes, staged.data());
        ASSERT_EQ(chunk->planes.size(), whole->planes.size());
        for (size_t p = 0; p < chunk->planes.size(); ++p) {
          std::memcpy(got.data() + plane_rows_offset(*whole, p, row0 + r), staged.data() + chunk->planes[p].offset,
                      chunk->planes[p].bytes);
        }
      }
      row0 += part_rows[i];
    }
    EXPECT_EQ(got, want);
  }
}

TEST(DeviceLayout, QuantizedDeviceTypesAreTheFiveBlockTypes) {
  for (GgmlType type : kTypes) {
    const bool block = type == GgmlType::Q8_0 || type == GgmlType::Q4_0 || type == GgmlType::Q4_K ||
                       type == GgmlType::Q5_K || type == GgmlType::Q6_K;
    EXPECT_EQ(is_quantized_device_type(type), block) << gguf::ggml_type_name(type);
  }
  EXPECT_FALSE(is_quantized_device_type(GgmlType::Q5_0));
}

TEST(DeviceLayout, PlanesAreAlignedSeparateAndAddOnlyPadding) {
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(std::string(gguf::ggml_type_name(type)));
    auto layout = device_layout(type, 4096, 4096);
    ASSERT_TRUE(layout);
    size_t end = 0, fields = 0;
    for (const Plane& p : layout->planes) {
      EXPECT_EQ(p.offset % kPlaneAlign, 0u) << p.field;
      EXPECT_GE(p.offset, end) << p.field;
      end = p.offset + p.bytes;
      fields += p.bytes_per_block;
    }
    EXPECT_EQ(fields, layout->block_bytes);
    EXPECT_LE(end, layout->total_bytes);
    EXPECT_LE(layout->total_bytes, layout->file_bytes() + kPlaneAlign * layout->planes.size());
    EXPECT_LE(static_cast<double>(layout->total_bytes), 1.05 * static_cast<double>(layout->file_bytes()));
    // A row of the first plane (the values a row's loads stream) starts 16-byte aligned.
    const Plane& values = layout->planes.front();
    EXPECT_EQ((static_cast<size_t>(layout->blocks_per_row) * values.bytes_per_block) % 16, 0u);
  }
  // Types whose blocks are not a multiple of 16 bytes are split; the others are not.
  EXPECT_EQ(device_layout(GgmlType::Q8_0, 1, 32)->planes.size(), 2u);
  EXPECT_EQ(device_layout(GgmlType::Q4_0, 1, 32)->planes.size(), 2u);
  EXPECT_EQ(device_layout(GgmlType::Q6_K, 1, 256)->planes.size(), 4u);
  EXPECT_EQ(device_layout(GgmlType::Q4_K, 1, 256)->planes.size(), 1u);
  EXPECT_EQ(device_layout(GgmlType::Q5_K, 1, 256)->planes.size(), 1u);
}

TEST(DeviceLayout, BadShapesAndTypesAreRefused) {
  EXPECT_EQ(device_layout(GgmlType::Q8_0, 4, 48).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(device_layout(GgmlType::Q6_K, 4, 128).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(device_layout(GgmlType::Q8_0, 0, 32).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(device_layout(GgmlType::Q8_0, 4, -32).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(device_layout(GgmlType::Q2_K, 4, 256).error().code, ErrorCode::unsupported);
}

}  // namespace
}  // namespace llmd::quant
