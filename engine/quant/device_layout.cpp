#include "engine/quant/device_layout.hpp"

#include <cstring>

#include "engine/quant/block_types.hpp"
#include "engine/quant/dequantize.hpp"

namespace llmd::quant {
namespace {

using gguf::GgmlType;

struct Field {
  std::string_view name;
  uint32_t offset;
  uint32_t bytes;
};

// The fields of a block type that is split into planes, in plane order
// (quantized values first: they are what a row's loads stream).
std::vector<Field> fields_of(GgmlType type) {
  switch (type) {
    case GgmlType::Q8_0:
      return {{"qs", offsetof(BlockQ8_0, qs), sizeof(BlockQ8_0::qs)}, {"d", offsetof(BlockQ8_0, d), 2}};
    case GgmlType::Q4_0:
      return {{"qs", offsetof(BlockQ4_0, qs), sizeof(BlockQ4_0::qs)}, {"d", offsetof(BlockQ4_0, d), 2}};
    case GgmlType::Q6_K:
      return {{"ql", offsetof(BlockQ6_K, ql), sizeof(BlockQ6_K::ql)},
              {"qh", offsetof(BlockQ6_K, qh), sizeof(BlockQ6_K::qh)},
              {"scales", offsetof(BlockQ6_K, scales), sizeof(BlockQ6_K::scales)},
              {"d", offsetof(BlockQ6_K, d), 2}};
    default:
      return {};
  }
}

size_t align_up(size_t n) { return (n + kPlaneAlign - 1) / kPlaneAlign * kPlaneAlign; }

}  // namespace

bool is_quantized_device_type(GgmlType type) {
  switch (type) {
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K: return true;
    default: return false;
  }
}

Result<DeviceLayout> device_layout(GgmlType type, int64_t rows, int64_t cols) {
  if (!is_supported_weight_type(type)) {
    return Error(ErrorCode::unsupported,
                 "weights of type " + std::string(gguf::ggml_type_name(type)) + " have no device layout");
  }
  const auto traits = gguf::ggml_type_traits(static_cast<uint32_t>(type));
  if (!traits || rows <= 0 || cols <= 0 || cols % traits->block_elems != 0) {
    return Error(ErrorCode::invalid_argument, "a " + std::to_string(rows) + " x " + std::to_string(cols) + " " +
                                                  std::string(gguf::ggml_type_name(type)) +
                                                  " matrix is not a whole number of blocks per row");
  }
  DeviceLayout l;
  l.type = type;
  l.rows = rows;
  l.cols = cols;
  l.blocks_per_row = cols / traits->block_elems;
  l.block_bytes = traits->block_bytes;
  const size_t n_blocks = static_cast<size_t>(rows * l.blocks_per_row);
  std::vector<Field> fields = fields_of(type);
  if (fields.empty()) fields.push_back(Field{"blocks", 0, l.block_bytes});
  size_t at = 0;
  for (const Field& f : fields) {
    Plane p;
    p.field = f.name;
    p.src_offset = f.offset;
    p.bytes_per_block = f.bytes;
    p.offset = at;
    p.bytes = n_blocks * f.bytes;
    l.planes.push_back(p);
    at = align_up(at + p.bytes);
  }
  l.total_bytes = at;
  return l;
}

size_t plane_rows_offset(const DeviceLayout& l, size_t plane, int64_t row0) {
  const Plane& p = l.planes[plane];
  return p.offset + static_cast<size_t>(row0 * l.blocks_per_row) * p.bytes_per_block;
}

void to_device_layout(const DeviceLayout& l, const void* file_bytes, void* device_bytes) {
  const auto* src = static_cast<const uint8_t*>(file_bytes);
  auto* dst = static_cast<uint8_t*>(device_bytes);
  std::memset(dst, 0, l.total_bytes);
  const size_t n_blocks = static_cast<size_t>(l.rows * l.blocks_per_row);
  if (!l.planar()) {
    std::memcpy(dst, src, l.file_bytes());
    return;
  }
  for (const Plane& p : l.planes) {
    uint8_t* out = dst + p.offset;
    for (size_t i = 0; i < n_blocks; ++i) {
      std::memcpy(out + i * p.bytes_per_block, src + i * l.block_bytes + p.src_offset, p.bytes_per_block);
    }
  }
}

void from_device_layout(const DeviceLayout& l, const void* device_bytes, void* file_bytes) {
  const auto* src = static_cast<const uint8_t*>(device_bytes);
  auto* dst = static_cast<uint8_t*>(file_bytes);
  const size_t n_blocks = static_cast<size_t>(l.rows * l.blocks_per_row);
  if (!l.planar()) {
    std::memcpy(dst, src, l.file_bytes());
    return;
  }
  for (const Plane& p : l.planes) {
    const uint8_t* in = src + p.offset;
    for (size_t i = 0; i < n_blocks; ++i) {
      std::memcpy(dst + i * l.block_bytes + p.src_offset, in + i * p.bytes_per_block, p.bytes_per_block);
    }
  }
}

void dequantize_device_row(const DeviceLayout& l, const void* device_bytes, int64_t row, float* out) {
  const auto* src = static_cast<const uint8_t*>(device_bytes);
  std::vector<uint8_t> blocks(static_cast<size_t>(l.blocks_per_row) * l.block_bytes);
  const size_t first = static_cast<size_t>(row * l.blocks_per_row);
  for (int64_t b = 0; b < l.blocks_per_row; ++b) {
    uint8_t* blk = blocks.data() + static_cast<size_t>(b) * l.block_bytes;
    for (const Plane& p : l.planes) {
      std::memcpy(blk + p.src_offset, src + p.offset + (first + static_cast<size_t>(b)) * p.bytes_per_block,
                  p.bytes_per_block);
    }
  }
  dequantize_row(l.type, blocks.data(), out, l.cols);
}

}  // namespace llmd::quant
