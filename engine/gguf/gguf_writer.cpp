#include "engine/gguf/gguf_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace llmd::gguf {
namespace {

class ByteSink {
 public:
  explicit ByteSink(std::vector<uint8_t>* out) : out_(out) {}
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out_->insert(out_->end(), p, p + sizeof v);
  }
  void put_bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_->insert(out_->end(), b, b + n);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    put_bytes(s.data(), s.size());
  }

 private:
  std::vector<uint8_t>* out_;
};

void put_value(ByteSink& sink, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::STRING:
      sink.put_string(*v.as_string());
      return;
    case GgufType::ARRAY: {
      const GgufArray* a = v.as_array();
      sink.put<uint32_t>(static_cast<uint32_t>(a->elem));
      sink.put<uint64_t>(a->count);
      if (gguf_scalar_size(a->elem)) {
        sink.put_bytes(a->raw.data(), a->raw.size());
      } else if (a->elem == GgufType::STRING) {
        for (const auto& s : a->strings) sink.put_string(s);
      } else {
        for (const auto& e : a->arrays) put_value(sink, e);
      }
      return;
    }
    default:
      sink.put_bytes(v.raw_bytes(), gguf_scalar_size(v.type()));
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& kv : kvs_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kvs_.push_back(GgufKv{key, std::move(value), 0});
}

bool GgufWriter::remove(const std::string& key) {
  for (auto it = kvs_.begin(); it != kvs_.end(); ++it) {
    if (it->key == key) {
      kvs_.erase(it);
      return true;
    }
  }
  return false;
}

Status GgufWriter::set_alignment(uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20)) {
    return Error(ErrorCode::gguf_bad_alignment, "alignment " + std::to_string(alignment) + " is not a power of two <= 1 MiB");
  }
  alignment_ = alignment;
  if (alignment != 32) set_u32("general.alignment", alignment);
  else remove("general.alignment");
  // Re-place tensors already added.
  uint64_t off = 0;
  for (auto& t : tensors_) {
    t.offset = off;
    off = align_up(off + t.n_bytes, alignment_);
  }
  return {};
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims, Fill fill) {
  for (const auto& t : tensors_) {
    if (t.name == name) return Error(ErrorCode::gguf_duplicate_tensor, "tensor '" + name + "' added twice");
  }
  if (dims.empty() || dims.size() > 4) {
    return Error(ErrorCode::gguf_bad_dims, "tensor '" + name + "' must have 1 to 4 dimensions");
  }
  uint64_t rows = 1;
  for (size_t i = 1; i < dims.size(); ++i) {
    if (dims[i] == 0) return Error(ErrorCode::gguf_zero_dim, "tensor '" + name + "' has a zero dimension");
    if (dims[i] > UINT64_MAX / rows) return Error(ErrorCode::gguf_dim_overflow, "tensor '" + name + "': shape overflows");
    rows *= dims[i];
  }
  auto row = ggml_row_bytes(type, dims[0]);
  if (row && *row > UINT64_MAX / rows) return Error(ErrorCode::gguf_dim_overflow, "tensor '" + name + "': size overflows");
  if (dims[0] == 0 || !row) {
    return Error(ErrorCode::gguf_bad_tensor_shape, "tensor '" + name + "': row length " + std::to_string(dims[0]) +
                                              " does not fit the block size of " +
                                              std::string(ggml_type_name(type)));
  }
  uint64_t off = 0;
  if (!tensors_.empty()) off = align_up(tensors_.back().offset + tensors_.back().n_bytes, alignment_);
  tensors_.push_back(Tensor{name, type, std::move(dims), *row * rows, off, std::move(fill)});
  return {};
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims,
                              std::vector<uint8_t> bytes) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  uint64_t expect = 0;
  {
    auto row = dims.empty() ? std::nullopt : ggml_row_bytes(type, dims[0]);
    if (row) {
      expect = *row;
      for (size_t i = 1; i < dims.size(); ++i) expect *= dims[i];
    }
  }
  if (expect != shared->size()) {
    return Error(ErrorCode::gguf_bad_tensor_shape, "tensor '" + name + "': " + std::to_string(shared->size()) +
                                              " bytes given, shape needs " + std::to_string(expect));
  }
  return add_tensor(name, type, std::move(dims), [shared](uint8_t* dst, uint64_t n) {
    std::memcpy(dst, shared->data(), n);
  });
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  std::vector<uint8_t> out;
  ByteSink sink(&out);
  sink.put<uint32_t>(0x46554747);
  sink.put<uint32_t>(version_);
  sink.put<uint64_t>(tensors_.size());
  sink.put<uint64_t>(kvs_.size());
  for (const auto& kv : kvs_) {
    sink.put_string(kv.key);
    sink.put<uint32_t>(static_cast<uint32_t>(kv.value.type()));
    put_value(sink, kv.value);
  }
  for (const auto& t : tensors_) {
    sink.put_string(t.name);
    sink.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) sink.put<uint64_t>(d);
    sink.put<uint32_t>(static_cast<uint32_t>(t.type));
    sink.put<uint64_t>(t.offset);
  }
  out.resize(align_up(out.size(), alignment_), 0);
  return out;
}

uint64_t GgufWriter::data_section_size() const {
  if (tensors_.empty()) return 0;
  return align_up(tensors_.back().offset + tensors_.back().n_bytes, alignment_);
}

Result<std::vector<uint8_t>> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out = header_bytes();
  size_t data_start = out.size();
  out.resize(data_start + data_section_size(), 0);
  for (const auto& t : tensors_) {
    if (t.fill) t.fill(out.data() + data_start + t.offset, t.n_bytes);
  }
  return out;
}

Status GgufWriter::write_file(const std::string& path) const {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error(ErrorCode::gguf_io, "cannot create '" + tmp + "': " + std::strerror(errno));
  auto write_all = [&](const uint8_t* p, uint64_t n) -> bool {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n > (1u << 30) ? (1u << 30) : n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      p += w;
      n -= static_cast<uint64_t>(w);
    }
    return true;
  };
  auto fail = [&](const std::string& what) -> Status {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error(ErrorCode::gguf_io, what + " '" + tmp + "': " + std::strerror(e));
  };

  std::vector<uint8_t> header = header_bytes();
  if (!write_all(header.data(), header.size())) return fail("cannot write");
  uint64_t written = 0;
  std::vector<uint8_t> buf;
  for (const auto& t : tensors_) {
    if (t.offset > written) {
      std::vector<uint8_t> pad(t.offset - written, 0);
      if (!write_all(pad.data(), pad.size())) return fail("cannot write");
      written = t.offset;
    }
    buf.assign(t.n_bytes, 0);
    if (t.fill) t.fill(buf.data(), t.n_bytes);
    if (!write_all(buf.data(), buf.size())) return fail("cannot write");
    written += t.n_bytes;
  }
  uint64_t total = data_section_size();
  if (total > written) {
    std::vector<uint8_t> pad(total - written, 0);
    if (!write_all(pad.data(), pad.size())) return fail("cannot write");
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Error(ErrorCode::gguf_io, "cannot close '" + tmp + "'");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error(ErrorCode::gguf_io, "cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(e));
  }
  return {};
}

}  // namespace llmd::gguf
