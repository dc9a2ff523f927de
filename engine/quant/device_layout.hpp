// The layout a weight matrix takes in GPU memory when it stays quantized: the
// file's bytes, rearranged so that kernels reading one row with 16-byte loads
// find every load aligned, and nothing added but alignment padding.
//
// Block types whose block size is a multiple of 16 bytes (q4_K 144, q5_K 176,
// and the plain f32/f16/bf16) keep the file's blocks as they are: one plane.
// The others are split into planes, one per field of the block, each holding
// that field of every block in row-major block order:
//
//   q8_0  qs (32 bytes/block) | d (2)
//   q4_0  qs (16, nibbles as in the file) | d (2)
//   q6_K  ql (128) | qh (64) | scales (16) | d (2)
//
// Block b of row r is block i = r * blocks_per_row + b of the matrix; its
// field f lives at plane(f).offset + i * plane(f).bytes_per_block. Planes start
// at multiples of kPlaneAlign bytes; the total is the file's bytes plus at most
// kPlaneAlign per plane. A row of a quantized-value plane is 16-byte aligned
// whenever the matrix's base is (cols is a multiple of the block size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/ggml_type.hpp"

namespace llmd::quant {

constexpr size_t kPlaneAlign = 256;

struct Plane {
  std::string_view field;     // "qs", "d", "blocks", ...
  uint32_t src_offset = 0;    // where the field starts in a file block
  uint32_t bytes_per_block = 0;
  size_t offset = 0;          // where the plane starts in the matrix's device bytes
  size_t bytes = 0;           // n_blocks * bytes_per_block
};

struct DeviceLayout {
  gguf::GgmlType type = gguf::GgmlType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t blocks_per_row = 0;
  uint32_t block_bytes = 0;    // of a file block
  std::vector<Plane> planes;   // in memory order
  size_t total_bytes = 0;      // what the matrix takes on the device

  bool planar() const { return planes.size() > 1; }
  size_t file_bytes() const { return static_cast<size_t>(rows * blocks_per_row) * block_bytes; }
};

// The block-quantized types that have a split or kept device layout and that
// the CUDA kernels read in it: q8_0, q4_0, q4_K, q5_K, q6_K.
bool is_quantized_device_type(gguf::GgmlType type);

// The layout of a rows x cols matrix of `type` (F32, F16, BF16, Q8_0, Q4_0,
// Q4_K, Q5_K, Q6_K). invalid_argument when cols is not a whole number of
// blocks or a size is not positive; unsupported for other types.
Result<DeviceLayout> device_layout(gguf::GgmlType type, int64_t rows, int64_t cols);

// Where rows [row0, ...) of a matrix of layout `l` start in plane `plane` of
// its device bytes. Consecutive rows are a contiguous run of every plane, so
// a chunk of rows laid out on its own (device_layout(type, n, cols)) lands
// plane by plane at these offsets: how a matrix is uploaded in pieces and
// how stacked tensors (q | k | v) become one matrix.
size_t plane_rows_offset(const DeviceLayout& l, size_t plane, int64_t row0);

// Rearranges the matrix's file bytes (file_bytes() of them) into the device
// layout (total_bytes() at dst; padding is zeroed).
void to_device_layout(const DeviceLayout& layout, const void* file_bytes, void* device_bytes);

// The inverse: the file's bytes from the device layout.
void from_device_layout(const DeviceLayout& layout, const void* device_bytes, void* file_bytes);

// Row `row` (cols floats) dequantized from the device layout: the reference
// that device kernels reading the layout are checked against.
void dequantize_device_row(const DeviceLayout& layout, const void* device_bytes, int64_t row, float* out);

}  // namespace llmd::quant
