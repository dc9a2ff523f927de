// GGUF v2/v3 reader over a read-only mmap. Every count, length, dimension and
// offset is validated against the file size before anything is allocated or
// read; failures are Errors whose code names the kind ("gguf_truncated", ...)
// and whose message names the field and its file offset.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/ggml_type.hpp"
#include "engine/gguf/gguf_value.hpp"
#include "engine/gguf/mapped_file.hpp"

namespace llmd::gguf {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxAlignment = 1u << 20;
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayNesting = 8;

// Error codes produced by the reader.
namespace errc {
inline constexpr ErrorCode kIo = ErrorCode::gguf_io;
inline constexpr ErrorCode kNotRegularFile = ErrorCode::gguf_not_regular_file;
inline constexpr ErrorCode kBadMagic = ErrorCode::gguf_bad_magic;
inline constexpr ErrorCode kBadVersion = ErrorCode::gguf_bad_version;
inline constexpr ErrorCode kTruncated = ErrorCode::gguf_truncated;
inline constexpr ErrorCode kCountTooLarge = ErrorCode::gguf_count_too_large;
inline constexpr ErrorCode kStringTooLong = ErrorCode::gguf_string_too_long;
inline constexpr ErrorCode kBadKey = ErrorCode::gguf_bad_key;
inline constexpr ErrorCode kDuplicateKey = ErrorCode::gguf_duplicate_key;
inline constexpr ErrorCode kBadValueType = ErrorCode::gguf_bad_value_type;
inline constexpr ErrorCode kNestingTooDeep = ErrorCode::gguf_nesting_too_deep;
inline constexpr ErrorCode kBadAlignment = ErrorCode::gguf_bad_alignment;
inline constexpr ErrorCode kBadDims = ErrorCode::gguf_bad_dims;
inline constexpr ErrorCode kZeroDim = ErrorCode::gguf_zero_dim;
inline constexpr ErrorCode kDimOverflow = ErrorCode::gguf_dim_overflow;
inline constexpr ErrorCode kBadTensorType = ErrorCode::gguf_bad_tensor_type;
inline constexpr ErrorCode kBadTensorShape = ErrorCode::gguf_bad_tensor_shape;
inline constexpr ErrorCode kDuplicateTensor = ErrorCode::gguf_duplicate_tensor;
inline constexpr ErrorCode kMisaligned = ErrorCode::gguf_misaligned;
inline constexpr ErrorCode kOutOfBounds = ErrorCode::gguf_tensor_out_of_bounds;
}  // namespace errc

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<uint64_t> dims;  // dims[0] varies fastest (the row length)
  uint64_t offset = 0;         // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t info_offset = 0;    // file offset of this tensor's info record

  uint64_t rows() const { return dims.empty() ? 0 : n_elements / dims[0]; }
};

class GgufFile {
 public:
  // Maps and validates a file.
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Validates an in-memory image (tests, fuzzing); `name` appears in errors.
  static Result<std::unique_ptr<GgufFile>> from_bytes(std::vector<uint8_t> bytes,
                                                      std::string name = "<memory>");

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }
  const std::string& name() const { return name_; }

  // Metadata in file order.
  const std::vector<GgufKv>& metadata() const { return kvs_; }
  const GgufValue* find(std::string_view key) const;

  // Typed lookups: nullopt when the key is absent or has another type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<uint32_t> get_u32(std::string_view key) const;
  std::optional<int64_t> get_i64(std::string_view key) const;
  std::optional<float> get_f32(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // Start of a tensor's bytes (n_bytes of them) inside the mapping.
  const uint8_t* tensor_data(const GgufTensorInfo& t) const { return base_ + data_offset_ + t.offset; }

 private:
  GgufFile() = default;
  Status parse();

  std::unique_ptr<MappedFile> map_;
  std::vector<uint8_t> owned_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  std::string name_;

  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace llmd::gguf
