#include "engine/gguf/gguf_value.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

namespace llmd::gguf {

bool gguf_type_valid(uint32_t id) { return id <= static_cast<uint32_t>(GgufType::F64); }

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "invalid";
}

size_t gguf_scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::STRING: case GgufType::ARRAY: return 0;
  }
  return 0;
}

GgufValue GgufValue::string(std::string v) {
  GgufValue out;
  out.type_ = GgufType::STRING;
  out.str_ = std::move(v);
  return out;
}

GgufValue GgufValue::array(GgufArray a) {
  GgufValue out;
  out.type_ = GgufType::ARRAY;
  out.arr_ = std::make_shared<const GgufArray>(std::move(a));
  return out;
}

GgufValue GgufValue::string_array(std::vector<std::string> v) {
  GgufArray a;
  a.elem = GgufType::STRING;
  a.count = v.size();
  a.strings = std::move(v);
  return array(std::move(a));
}

GgufValue GgufValue::f32_array(const std::vector<float>& v) {
  GgufArray a;
  a.elem = GgufType::F32;
  a.count = v.size();
  a.raw.resize(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(a.raw.data(), v.data(), a.raw.size());
  return array(std::move(a));
}

GgufValue GgufValue::i32_array(const std::vector<int32_t>& v) {
  GgufArray a;
  a.elem = GgufType::I32;
  a.count = v.size();
  a.raw.resize(v.size() * sizeof(int32_t));
  if (!v.empty()) std::memcpy(a.raw.data(), v.data(), a.raw.size());
  return array(std::move(a));
}

GgufValue GgufValue::from_raw(GgufType t, const uint8_t* bytes) {
  GgufValue out;
  out.type_ = t;
  std::memcpy(out.bits_, bytes, gguf_scalar_size(t));
  return out;
}

bool GgufValue::is_integer() const {
  switch (type_) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
      return true;
    default:
      return false;
  }
}

namespace {
template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
}  // namespace

std::optional<int64_t> GgufValue::as_i64() const {
  switch (type_) {
    case GgufType::U8: return load<uint8_t>(bits_);
    case GgufType::I8: return load<int8_t>(bits_);
    case GgufType::U16: return load<uint16_t>(bits_);
    case GgufType::I16: return load<int16_t>(bits_);
    case GgufType::U32: return load<uint32_t>(bits_);
    case GgufType::I32: return load<int32_t>(bits_);
    case GgufType::I64: return load<int64_t>(bits_);
    case GgufType::U64: {
      uint64_t v = load<uint64_t>(bits_);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(v);
    }
    default: return std::nullopt;
  }
}

std::optional<uint64_t> GgufValue::as_u64() const {
  if (type_ == GgufType::U64) return load<uint64_t>(bits_);
  auto v = as_i64();
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

std::optional<uint32_t> GgufValue::as_u32() const {
  auto v = as_u64();
  if (!v || *v > std::numeric_limits<uint32_t>::max()) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

std::optional<int32_t> GgufValue::as_i32() const {
  auto v = as_i64();
  if (!v || *v < std::numeric_limits<int32_t>::min() || *v > std::numeric_limits<int32_t>::max())
    return std::nullopt;
  return static_cast<int32_t>(*v);
}

std::optional<double> GgufValue::as_f64() const {
  if (type_ == GgufType::F32) return load<float>(bits_);
  if (type_ == GgufType::F64) return load<double>(bits_);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (type_ != GgufType::BOOL) return std::nullopt;
  return bits_[0] != 0;
}

const std::string* GgufValue::as_string() const {
  return type_ == GgufType::STRING ? &str_ : nullptr;
}

const std::vector<std::string>* GgufValue::as_string_array() const {
  const GgufArray* a = as_array();
  if (!a || a->elem != GgufType::STRING) return nullptr;
  return &a->strings;
}

GgufValue GgufValue::array_element(uint64_t i) const {
  const GgufArray* a = as_array();
  if (!a || i >= a->count) return {};
  size_t sz = gguf_scalar_size(a->elem);
  if (sz == 0) {
    if (a->elem == GgufType::STRING) return string(a->strings[i]);
    return a->arrays[i];
  }
  return from_raw(a->elem, a->raw.data() + i * sz);
}

std::optional<std::vector<float>> GgufValue::to_f32_vector() const {
  const GgufArray* a = as_array();
  if (!a) return std::nullopt;
  std::vector<float> out;
  out.reserve(a->count);
  for (uint64_t i = 0; i < a->count; ++i) {
    GgufValue e = array_element(i);
    if (auto f = e.as_f64()) out.push_back(static_cast<float>(*f));
    else if (auto n = e.as_i64()) out.push_back(static_cast<float>(*n));
    else return std::nullopt;
  }
  return out;
}

std::optional<std::vector<int32_t>> GgufValue::to_i32_vector() const {
  const GgufArray* a = as_array();
  if (!a) return std::nullopt;
  std::vector<int32_t> out;
  out.reserve(a->count);
  for (uint64_t i = 0; i < a->count; ++i) {
    auto n = array_element(i).as_i32();
    if (!n) return std::nullopt;
    out.push_back(*n);
  }
  return out;
}

std::optional<std::vector<int64_t>> GgufValue::to_i64_vector() const {
  const GgufArray* a = as_array();
  if (!a) return std::nullopt;
  std::vector<int64_t> out;
  out.reserve(a->count);
  for (uint64_t i = 0; i < a->count; ++i) {
    auto n = array_element(i).as_i64();
    if (!n) return std::nullopt;
    out.push_back(*n);
  }
  return out;
}

namespace {
std::string quote(const std::string& s, size_t max_len = 60) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') { out += '\\'; out += static_cast<char>(c); }
    else if (c == '\n') out += "\\n";
    else if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\x%02x", c); out += b; }
    else out += static_cast<char>(c);
  }
  if (s.size() > max_len) out += "...";
  out += '"';
  return out;
}
}  // namespace

std::string GgufValue::to_display_string(size_t max_items) const {
  if (type_ == GgufType::STRING) return quote(str_);
  if (type_ == GgufType::BOOL) return bits_[0] ? "true" : "false";
  if (auto f = as_f64()) {
    char b[64];
    std::snprintf(b, sizeof b, "%.9g", *f);
    return b;
  }
  if (type_ == GgufType::U64) return std::to_string(load<uint64_t>(bits_));
  if (auto n = as_i64()) return std::to_string(*n);
  const GgufArray* a = as_array();
  if (!a) return "?";
  std::string out = "[" + std::string(gguf_type_name(a->elem)) + " x " + std::to_string(a->count) + "]";
  out += " [";
  for (uint64_t i = 0; i < a->count && i < max_items; ++i) {
    if (i) out += ", ";
    out += array_element(i).to_display_string(max_items);
  }
  if (a->count > max_items) out += ", ...";
  out += "]";
  return out;
}

}  // namespace llmd::gguf
