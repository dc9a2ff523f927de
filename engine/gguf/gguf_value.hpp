// Metadata values of a GGUF file: scalars, strings and (nested) arrays.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::gguf {

// Value type ids as stored in the file.
enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

bool gguf_type_valid(uint32_t id);
std::string_view gguf_type_name(GgufType t);
// Bytes of a fixed-size scalar type; 0 for STRING and ARRAY.
size_t gguf_scalar_size(GgufType t);

class GgufValue;

// Array payload. Numeric and bool elements are packed little-endian in `raw`
// (count * scalar size bytes); strings and nested arrays are kept as objects.
struct GgufArray {
  GgufType elem = GgufType::U8;
  uint64_t count = 0;
  std::vector<uint8_t> raw;
  std::vector<std::string> strings;
  std::vector<GgufValue> arrays;
};

class GgufValue {
 public:
  GgufValue() = default;

  // Constructors for each type.
  static GgufValue u8(uint8_t v) { return scalar(GgufType::U8, v); }
  static GgufValue i8(int8_t v) { return scalar(GgufType::I8, v); }
  static GgufValue u16(uint16_t v) { return scalar(GgufType::U16, v); }
  static GgufValue i16(int16_t v) { return scalar(GgufType::I16, v); }
  static GgufValue u32(uint32_t v) { return scalar(GgufType::U32, v); }
  static GgufValue i32(int32_t v) { return scalar(GgufType::I32, v); }
  static GgufValue u64(uint64_t v) { return scalar(GgufType::U64, v); }
  static GgufValue i64(int64_t v) { return scalar(GgufType::I64, v); }
  static GgufValue f32(float v) { return scalar(GgufType::F32, v); }
  static GgufValue f64(double v) { return scalar(GgufType::F64, v); }
  static GgufValue boolean(bool v) { return scalar(GgufType::BOOL, static_cast<uint8_t>(v ? 1 : 0)); }
  static GgufValue string(std::string v);
  static GgufValue array(GgufArray a);
  static GgufValue string_array(std::vector<std::string> v);
  static GgufValue f32_array(const std::vector<float>& v);
  static GgufValue i32_array(const std::vector<int32_t>& v);

  // Builds a scalar from raw little-endian bytes (used by the reader).
  static GgufValue from_raw(GgufType t, const uint8_t* bytes);

  GgufType type() const { return type_; }
  bool is_integer() const;
  bool is_float() const { return type_ == GgufType::F32 || type_ == GgufType::F64; }

  // Scalar accessors: nullopt on a type mismatch or when the value does not fit.
  std::optional<uint64_t> as_u64() const;  // any integer type, non-negative
  std::optional<int64_t> as_i64() const;   // any integer type that fits
  std::optional<uint32_t> as_u32() const;
  std::optional<int32_t> as_i32() const;
  std::optional<double> as_f64() const;    // F32 or F64
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;

  // Array accessors (nullptr / nullopt when not an array of the asked kind).
  const GgufArray* as_array() const { return type_ == GgufType::ARRAY ? arr_.get() : nullptr; }
  const std::vector<std::string>* as_string_array() const;
  // Numeric arrays converted element-wise; nullopt if an element does not fit.
  std::optional<std::vector<float>> to_f32_vector() const;
  std::optional<std::vector<int32_t>> to_i32_vector() const;
  std::optional<std::vector<int64_t>> to_i64_vector() const;

  // Element i of a numeric or bool array as a scalar value.
  GgufValue array_element(uint64_t i) const;

  // Raw little-endian bytes of a scalar (size = gguf_scalar_size(type())).
  const uint8_t* raw_bytes() const { return bits_; }

  // Short human-readable rendering (arrays abbreviated) for `llmd gguf`.
  std::string to_display_string(size_t max_items = 8) const;

 private:
  template <typename T>
  static GgufValue scalar(GgufType t, T v) {
    GgufValue out;
    out.type_ = t;
    std::memcpy(out.bits_, &v, sizeof v);
    return out;
  }

  GgufType type_ = GgufType::U8;
  uint8_t bits_[8] = {};
  std::string str_;
  std::shared_ptr<const GgufArray> arr_;
};

struct GgufKv {
  std::string key;
  GgufValue value;
  uint64_t offset = 0;  // file offset of the key (0 for values not read from a file)
};

}  // namespace llmd::gguf
