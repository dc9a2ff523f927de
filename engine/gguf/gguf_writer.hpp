// GGUF v3 writer. Metadata is kept in insertion order; tensor data is produced
// by a fill callback at write time, so multi-gigabyte synthetic models stream to
// disk one tensor at a time. Files written here round-trip through GgufFile.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/ggml_type.hpp"
#include "engine/gguf/gguf_value.hpp"

namespace llmd::gguf {

class GgufWriter {
 public:
  // Fills `n` bytes of one tensor's data.
  using Fill = std::function<void(uint8_t* dst, uint64_t n)>;

  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  // Sets (or replaces) a metadata entry.
  void set(const std::string& key, GgufValue value);
  void set_string(const std::string& key, std::string v) { set(key, GgufValue::string(std::move(v))); }
  void set_u32(const std::string& key, uint32_t v) { set(key, GgufValue::u32(v)); }
  void set_i32(const std::string& key, int32_t v) { set(key, GgufValue::i32(v)); }
  void set_u64(const std::string& key, uint64_t v) { set(key, GgufValue::u64(v)); }
  void set_f32(const std::string& key, float v) { set(key, GgufValue::f32(v)); }
  void set_bool(const std::string& key, bool v) { set(key, GgufValue::boolean(v)); }
  bool remove(const std::string& key);

  // Alignment of tensor data (a power of two); written as general.alignment
  // when it differs from the default of 32.
  Status set_alignment(uint32_t alignment);

  // Adds a tensor; dims[0] is the row length. Checks the shape against the
  // type's block size and rejects duplicate names.
  Status add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims, Fill fill);
  Status add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims,
                    std::vector<uint8_t> bytes);

  // Serializes the whole file into memory (small files, tests).
  Result<std::vector<uint8_t>> to_bytes() const;
  // Writes to `path` via a temporary file renamed into place.
  Status write_file(const std::string& path) const;

  const std::vector<GgufKv>& metadata() const { return kvs_; }

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes;
    uint64_t offset;
    Fill fill;
  };
  std::vector<uint8_t> header_bytes() const;
  uint64_t data_section_size() const;

  uint32_t version_;
  uint32_t alignment_ = 32;
  std::vector<GgufKv> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace llmd::gguf
