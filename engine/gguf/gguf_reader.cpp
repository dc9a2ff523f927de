#include "engine/gguf/gguf_reader.hpp"

#include <algorithm>
#include <cstring>

namespace llmd::gguf {
namespace {

// Bounds-checked little-endian reads over [base, base + size).
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size, const std::string& file) : base_(base), size_(size), file_(file) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  Error fail(ErrorCode code, const std::string& field, uint64_t at, const std::string& what) const {
    return Error(code, "GGUF " + file_ + ": " + field + " at offset " + std::to_string(at) + ": " + what);
  }

  template <typename T>
  Status read(T* out, const std::string& field) {
    if (remaining() < sizeof(T)) {
      return fail(errc::kTruncated, field, pos_,
                  "needs " + std::to_string(sizeof(T)) + " bytes, file ends after " + std::to_string(remaining()));
    }
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return {};
  }

  Status read_bytes(uint8_t* out, uint64_t n, const std::string& field) {
    if (remaining() < n) {
      return fail(errc::kTruncated, field, pos_,
                  "needs " + std::to_string(n) + " bytes, file ends after " + std::to_string(remaining()));
    }
    if (n) std::memcpy(out, base_ + pos_, n);
    pos_ += n;
    return {};
  }

  // A length that cannot fit in the whole file is "too long"; one that fits
  // the file but runs past its end means the file is truncated.
  // `index` >= 0 names element `index` of the array `field` (the name is
  // only built when there is an error to report).
  Status read_string(std::string* out, const std::string& field, int64_t index = -1) {
    uint64_t at = pos_;
    uint64_t len = 0;
    if (remaining() >= sizeof len) {
      std::memcpy(&len, base_ + pos_, sizeof len);
      pos_ += sizeof len;
    } else if (auto s = read(&len, element(field, index) + " length"); !s) {
      return s;
    }
    if (len > size_) {
      return fail(errc::kStringTooLong, element(field, index), at,
                  "string length " + std::to_string(len) + " exceeds the file size of " + std::to_string(size_) +
                      " bytes");
    }
    if (len > remaining()) {
      return fail(errc::kTruncated, element(field, index), at,
                  "string of " + std::to_string(len) + " bytes runs past the end of the file (" +
                      std::to_string(remaining()) + " bytes left)");
    }
    out->assign(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return {};
  }

  uint64_t size() const { return size_; }

  static std::string element(const std::string& field, int64_t index) {
    return index < 0 ? field : field + "[" + std::to_string(index) + "]";
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& file_;
};

// Smallest encoded size of one element of the given type (bounds array counts).
uint64_t min_encoded_size(GgufType t) {
  switch (t) {
    case GgufType::STRING: return 8;   // length prefix
    case GgufType::ARRAY: return 12;   // element type + count
    default: return gguf_scalar_size(t);
  }
}

Status read_value(Cursor& c, GgufType type, const std::string& field, int depth, GgufValue* out);

Status read_array(Cursor& c, const std::string& field, int depth, GgufValue* out) {
  if (depth >= kMaxArrayNesting) {
    return c.fail(errc::kNestingTooDeep, field, c.pos(),
                  "arrays nested deeper than " + std::to_string(kMaxArrayNesting));
  }
  uint64_t type_at = c.pos();
  uint32_t elem_id = 0;
  if (auto s = c.read(&elem_id, field + " element type"); !s) return s;
  if (!gguf_type_valid(elem_id)) {
    return c.fail(errc::kBadValueType, field + " element type", type_at,
                  "unknown value type " + std::to_string(elem_id));
  }
  GgufArray arr;
  arr.elem = static_cast<GgufType>(elem_id);
  uint64_t count_at = c.pos();
  if (auto s = c.read(&arr.count, field + " element count"); !s) return s;
  const uint64_t min_size = min_encoded_size(arr.elem);
  if (arr.count > c.size() / min_size) {
    return c.fail(errc::kCountTooLarge, field + " element count", count_at,
                  "count " + std::to_string(arr.count) + " of " + std::string(gguf_type_name(arr.elem)) +
                      " elements cannot fit in a file of " + std::to_string(c.size()) + " bytes");
  }
  if (arr.count * min_size > c.remaining()) {
    return c.fail(errc::kTruncated, field + " elements", c.pos(),
                  std::to_string(arr.count) + " elements need at least " + std::to_string(arr.count * min_size) +
                      " bytes, file ends after " + std::to_string(c.remaining()));
  }
  size_t scalar = gguf_scalar_size(arr.elem);
  if (scalar) {
    arr.raw.resize(arr.count * scalar);
    if (auto s = c.read_bytes(arr.raw.data(), arr.raw.size(), field + " elements"); !s) return s;
  } else if (arr.elem == GgufType::STRING) {
    arr.strings.resize(arr.count);
    for (uint64_t i = 0; i < arr.count; ++i) {
      if (auto s = c.read_string(&arr.strings[i], field, static_cast<int64_t>(i)); !s) return s;
    }
  } else {
    arr.arrays.resize(arr.count);
    for (uint64_t i = 0; i < arr.count; ++i) {
      if (auto s = read_array(c, field + "[" + std::to_string(i) + "]", depth + 1, &arr.arrays[i]); !s) return s;
    }
  }
  *out = GgufValue::array(std::move(arr));
  return {};
}

Status read_value(Cursor& c, GgufType type, const std::string& field, int depth, GgufValue* out) {
  if (type == GgufType::STRING) {
    std::string s;
    if (auto st = c.read_string(&s, field); !st) return st;
    *out = GgufValue::string(std::move(s));
    return {};
  }
  if (type == GgufType::ARRAY) return read_array(c, field, depth, out);
  uint8_t bytes[8];
  if (auto s = c.read_bytes(bytes, gguf_scalar_size(type), field); !s) return s;
  *out = GgufValue::from_raw(type, bytes);
  return {};
}

}  // namespace

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  auto map = MappedFile::open(path);
  if (!map) return map.take_error();
  auto f = std::unique_ptr<GgufFile>(new GgufFile());
  f->map_ = std::move(*map);
  f->base_ = f->map_->data();
  f->size_ = f->map_->size();
  f->name_ = path;
  if (auto s = f->parse(); !s) return s.take_error();
  return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_bytes(std::vector<uint8_t> bytes, std::string name) {
  auto f = std::unique_ptr<GgufFile>(new GgufFile());
  f->owned_ = std::move(bytes);
  f->base_ = f->owned_.data();
  f->size_ = f->owned_.size();
  f->name_ = std::move(name);
  if (auto s = f->parse(); !s) return s.take_error();
  return f;
}

Status GgufFile::parse() {
  Cursor c(base_, size_, name_);

  uint32_t magic = 0;
  if (auto s = c.read(&magic, "magic"); !s) return s;
  if (magic != kGgufMagic) {
    return c.fail(errc::kBadMagic, "magic", 0, "not a GGUF file (expected the bytes \"GGUF\")");
  }
  if (auto s = c.read(&version_, "version"); !s) return s;
  if (version_ != 2 && version_ != 3) {
    std::string why = "unsupported version " + std::to_string(version_) + " (supported: 2, 3)";
    if (version_ == 1) why += "; version 1 files must be converted";
    if ((version_ & 0xffff) == 0 && version_ != 0) why += "; the file looks big-endian, which is not supported";
    return c.fail(errc::kBadVersion, "version", 4, why);
  }

  uint64_t n_tensors = 0, n_kv = 0;
  if (auto s = c.read(&n_tensors, "tensor count"); !s) return s;
  if (auto s = c.read(&n_kv, "metadata count"); !s) return s;
  // Each metadata entry takes at least 13 bytes (key length, type, 1-byte value);
  // each tensor info at least 32 (name length, n_dims, one dim, type, offset).
  // A count that could not fit in the whole file is corrupt; one that merely
  // runs past the end is caught as truncation while reading.
  if (n_kv > size_ / 13) {
    return c.fail(errc::kCountTooLarge, "metadata count", 16,
                  "count " + std::to_string(n_kv) + " cannot fit in a file of " + std::to_string(size_) + " bytes");
  }
  if (n_tensors > size_ / 32) {
    return c.fail(errc::kCountTooLarge, "tensor count", 8,
                  "count " + std::to_string(n_tensors) + " cannot fit in a file of " + std::to_string(size_) +
                      " bytes");
  }

  kvs_.reserve(std::min<uint64_t>(n_kv, 4096));
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKv kv;
    kv.offset = c.pos();
    std::string field = "metadata key #" + std::to_string(i);
    if (auto s = c.read_string(&kv.key, field); !s) return s;
    if (kv.key.empty()) return c.fail(errc::kBadKey, field, kv.offset, "empty key");
    field = "metadata '" + kv.key + "'";
    if (kv_index_.count(kv.key)) return c.fail(errc::kDuplicateKey, field, kv.offset, "key appears twice");
    uint64_t type_at = c.pos();
    uint32_t type_id = 0;
    if (auto s = c.read(&type_id, field + " type"); !s) return s;
    if (!gguf_type_valid(type_id)) {
      return c.fail(errc::kBadValueType, field + " type", type_at, "unknown value type " + std::to_string(type_id));
    }
    if (auto s = read_value(c, static_cast<GgufType>(type_id), field, 0, &kv.value); !s) return s;
    kv_index_.emplace(kv.key, kvs_.size());
    kvs_.push_back(std::move(kv));
  }

  if (const GgufValue* a = find("general.alignment")) {
    const uint64_t at = kvs_[kv_index_.at("general.alignment")].offset;
    if (a->type() != GgufType::U32) {
      return c.fail(errc::kBadAlignment, "metadata 'general.alignment'", at,
                    std::string("must be u32, found ") + std::string(gguf_type_name(a->type())));
    }
    uint32_t al = *a->as_u32();
    if (al == 0 || (al & (al - 1)) != 0 || al > kMaxAlignment) {
      return c.fail(errc::kBadAlignment, "metadata 'general.alignment'", at,
                    "alignment " + std::to_string(al) + " is not a power of two between 1 and " +
                        std::to_string(kMaxAlignment));
    }
    alignment_ = al;
  }

  tensors_.reserve(std::min<uint64_t>(n_tensors, 4096));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.info_offset = c.pos();
    std::string field = "tensor #" + std::to_string(i);
    if (auto s = c.read_string(&t.name, field + " name"); !s) return s;
    field = "tensor '" + t.name + "'";
    if (tensor_index_.count(t.name)) {
      return c.fail(errc::kDuplicateTensor, field, t.info_offset, "tensor name appears twice");
    }
    uint64_t dims_at = c.pos();
    uint32_t n_dims = 0;
    if (auto s = c.read(&n_dims, field + " n_dims"); !s) return s;
    if (n_dims == 0 || n_dims > kMaxDims) {
      return c.fail(errc::kBadDims, field + " n_dims", dims_at,
                    std::to_string(n_dims) + " dimensions (must be 1 to " + std::to_string(kMaxDims) + ")");
    }
    t.dims.resize(n_dims);
    t.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t at = c.pos();
      if (auto s = c.read(&t.dims[d], field + " dim " + std::to_string(d)); !s) return s;
      if (t.dims[d] == 0) return c.fail(errc::kZeroDim, field + " dim " + std::to_string(d), at, "dimension is 0");
      if (t.dims[d] > static_cast<uint64_t>(INT64_MAX) / t.n_elements) {
        return c.fail(errc::kDimOverflow, field + " dim " + std::to_string(d), at,
                      "element count overflows (dimension " + std::to_string(t.dims[d]) + ")");
      }
      t.n_elements *= t.dims[d];
    }
    uint64_t type_at = c.pos();
    uint32_t type_id = 0;
    if (auto s = c.read(&type_id, field + " type"); !s) return s;
    auto traits = ggml_type_traits(type_id);
    if (!traits) {
      return c.fail(errc::kBadTensorType, field + " type", type_at, "unknown tensor type id " + std::to_string(type_id));
    }
    t.type = static_cast<GgmlType>(type_id);
    if (t.dims[0] % traits->block_elems != 0) {
      return c.fail(errc::kBadTensorShape, field + " dim 0", dims_at + 4,
                    "row length " + std::to_string(t.dims[0]) + " is not a multiple of the " +
                        std::string(traits->name) + " block size " + std::to_string(traits->block_elems));
    }
    auto row = ggml_row_bytes(t.type, t.dims[0]);
    uint64_t rows = t.n_elements / t.dims[0];
    if (!row || (rows != 0 && *row > UINT64_MAX / rows)) {
      return c.fail(errc::kDimOverflow, field, dims_at, "byte size overflows");
    }
    t.n_bytes = *row * rows;
    uint64_t off_at = c.pos();
    if (auto s = c.read(&t.offset, field + " offset"); !s) return s;
    if (t.offset % alignment_ != 0) {
      return c.fail(errc::kMisaligned, field + " offset", off_at,
                    "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                        std::to_string(alignment_));
    }
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t pos = c.pos();
  uint64_t data = (pos + alignment_ - 1) / alignment_ * alignment_;
  data_offset_ = data;
  if (tensors_.empty()) return {};
  if (data > size_) {
    return c.fail(errc::kTruncated, "data section", pos,
                  "file ends before the data section at offset " + std::to_string(data));
  }
  uint64_t data_size = size_ - data;
  for (const auto& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return c.fail(errc::kOutOfBounds, "tensor '" + t.name + "' data", t.info_offset,
                    "bytes [" + std::to_string(t.offset) + ", " + std::to_string(t.offset) + "+" +
                        std::to_string(t.n_bytes) + ") exceed the data section of " + std::to_string(data_size) +
                        " bytes");
    }
  }
  return {};
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || !v->as_string()) return std::nullopt;
  return *v->as_string();
}

std::optional<uint32_t> GgufFile::get_u32(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_u32() : std::nullopt;
}

std::optional<int64_t> GgufFile::get_i64(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_i64() : std::nullopt;
}

std::optional<float> GgufFile::get_f32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (auto f = v->as_f64()) return static_cast<float>(*f);
  return std::nullopt;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace llmd::gguf
