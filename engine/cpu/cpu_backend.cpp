#include "engine/cpu/cpu_backend.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "base/log.hpp"
#include "engine/cpu/cpu_backend_impl.hpp"
#include "engine/cpu/cpu_features.hpp"
#include "engine/quant/dequantize.hpp"

namespace llmd::engine {

namespace cpu {

CpuBackend::CpuBackend(const Model& model, const KernelTable& kernels, int threads, int32_t first, int32_t last)
    : model_(model), cfg_(model.config()), k_(kernels), first_(first), last_(last), pool_(threads) {}

Status CpuBackend::pack_linear(std::span<const WeightView* const> parts, Linear* out) {
  out->parts.clear();
  out->rows = 0;
  // Stack consecutive parts that share a packed format.
  size_t i = 0;
  while (i < parts.size()) {
    size_t j = i + 1;
    while (j < parts.size() && pack_format_for(parts[j]->type) == pack_format_for(parts[i]->type)) ++j;
    auto m = PackedMatrix::pack(parts.subspan(i, j - i), &pool_);
    if (!m) return m.take_error();
    out->rows += m->rows();
    out->parts.push_back(std::move(*m));
    i = j;
  }
  return ok_status();
}

namespace {

// The file pages of a tensor that has been packed are no longer needed in this
// process: drop them from its page tables (they stay in the page cache and
// fault back in if read again), so resident memory counts the packed copy only.
void release_file_pages(const WeightView& w) {
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0 || !w.data) return;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(w.data);
  const uintptr_t end = begin + w.row_bytes * static_cast<uint64_t>(w.rows);
  const uintptr_t first = (begin + static_cast<uintptr_t>(page) - 1) / static_cast<uintptr_t>(page) * static_cast<uintptr_t>(page);
  const uintptr_t last = end / static_cast<uintptr_t>(page) * static_cast<uintptr_t>(page);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

Status to_floats(const WeightView& w, std::vector<float>* out) {
  out->resize(static_cast<size_t>(w.cols));
  if (!quant::dequantize_row(w.type, w.data, out->data(), w.cols))
    return Error(ErrorCode::model_unsupported_type, "cannot read " + w.name);
  return ok_status();
}

}  // namespace

Status CpuBackend::load_weights(const std::function<void(uint64_t, uint64_t)>& progress) {
  layers_.resize(static_cast<size_t>(last_ - first_));
  // Progress counts the file bytes of the tensors this backend converts.
  auto bytes = [](const WeightView& v) { return static_cast<uint64_t>(v.rows) * v.row_bytes; };
  const bool last_stage = last_ == cfg_.n_layer;
  uint64_t total = last_stage ? bytes(model_.output()) : 0;
  for (int l = first_; l < last_; ++l) {
    const LayerWeights& w = model_.layer(l);
    for (const WeightView* v : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) total += bytes(*v);
  }
  uint64_t done = 0;
  for (int l = first_; l < last_; ++l) {
    const LayerWeights& w = model_.layer(l);
    for (const WeightView* v : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) done += bytes(*v);
    Layer& L = layers_[static_cast<size_t>(l - first_)];
    LLMD_TRY(to_floats(w.attn_norm, &L.attn_norm));
    LLMD_TRY(to_floats(w.ffn_norm, &L.ffn_norm));
    if (cfg_.qkv_bias) {
      LLMD_TRY(to_floats(w.bq, &L.bq));
      LLMD_TRY(to_floats(w.bk, &L.bk));
      LLMD_TRY(to_floats(w.bv, &L.bv));
    }
    if (cfg_.qk_norm) {
      LLMD_TRY(to_floats(w.q_norm, &L.q_norm));
      LLMD_TRY(to_floats(w.k_norm, &L.k_norm));
    }
    const WeightView* qkv[] = {&w.wq, &w.wk, &w.wv};
    LLMD_TRY(pack_linear(qkv, &L.qkv));
    const WeightView* wo[] = {&w.wo};
    LLMD_TRY(pack_linear(wo, &L.wo));
    const WeightView* gu[] = {&w.w_gate, &w.w_up};
    LLMD_TRY(pack_linear(gu, &L.gate_up));
    const WeightView* down[] = {&w.w_down};
    LLMD_TRY(pack_linear(down, &L.down));
    for (const WeightView* v : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) release_file_pages(*v);
    if (progress) progress(std::min(done, total), total);
  }
  if (last_stage) {
    LLMD_TRY(to_floats(model_.output_norm(), &output_norm_));
    const WeightView* out[] = {&model_.output()};
    LLMD_TRY(pack_linear(out, &output_));
    // Token embeddings are read from the file at every step (by the first
    // stage); the rest lives in packed form now.
    if (!cfg_.tied_output) release_file_pages(model_.output());
  }
  if (progress) progress(total, total);
  return ok_status();
}

uint64_t CpuBackend::memory_bytes() const {
  uint64_t n = 0;
  auto floats = [](const std::vector<float>& v) { return v.capacity() * sizeof(float); };
  auto linear = [](const Linear& l) {
    uint64_t b = 0;
    for (const PackedMatrix& m : l.parts) b += m.bytes();
    return b;
  };
  for (const Layer& L : layers_) {
    n += floats(L.attn_norm) + floats(L.ffn_norm) + floats(L.bq) + floats(L.bk) + floats(L.bv) + floats(L.q_norm) +
         floats(L.k_norm);
    n += linear(L.qkv) + linear(L.wo) + linear(L.gate_up) + linear(L.down);
  }
  n += floats(output_norm_) + linear(output_) + kv_.bytes();
  for (const auto* v : {&x_, &xn_, &qkv_, &att_, &gu_, &h_, &cos_, &sin_, &ad_, &aqsum_}) n += floats(*v);
  n += aq_.capacity() + ar_.capacity() + (acorr16_.capacity() + acorr32_.capacity()) * sizeof(int32_t);
  for (const auto& t : attn_scratch_) n += floats(t);
  return n;
}

Status CpuBackend::init_kv(const KvCacheShape& shape) { return kv_.init(cfg_, shape, last_ - first_); }

uint64_t CpuBackend::kv_block_bytes(const KvCacheShape& shape) const {
  return CpuKvCache::block_bytes(cfg_, shape, last_ - first_);
}

Status CpuBackend::copy_kv_block(int32_t src, int32_t dst) {
  if (!kv_.ready()) return Error(ErrorCode::kv_not_initialized, "the KV-cache has not been initialized");
  if (src < 0 || dst < 0 || src >= kv_.n_blocks() || dst >= kv_.n_blocks())
    return Error(ErrorCode::kv_bad_block, "KV block index out of range (pool has " + std::to_string(kv_.n_blocks()) + ")");
  kv_.copy_block(src, dst);
  return ok_status();
}

}  // namespace cpu

Result<std::unique_ptr<Backend>> make_cpu_backend(const Model& model, const CpuBackendOptions& opts) {
  const cpu::KernelTable* kernels = &cpu::default_kernels();
  if (!opts.isa.empty()) {
    kernels = nullptr;
    for (cpu::CpuIsa isa : cpu::available_isas())
      if (opts.isa == cpu::isa_name(isa)) kernels = &cpu::kernels_for(isa);
    if (!kernels) return Error(ErrorCode::cpu_isa_unavailable, "this CPU cannot run the '" + opts.isa + "' kernels");
  }
  if (opts.threads < 0 || opts.threads > 1024)
    return Error(ErrorCode::cpu_bad_threads, "thread count must be in [0, 1024], got " + std::to_string(opts.threads));
  const int32_t n_layer = model.config().n_layer;
  const int32_t last = opts.last_layer < 0 ? n_layer : opts.last_layer;
  if (opts.first_layer < 0 || opts.first_layer >= last || last > n_layer)
    return Error(ErrorCode::invalid_argument, "layer range [" + std::to_string(opts.first_layer) + ", " +
                                                  std::to_string(last) + ") is not a non-empty range of the model's " +
                                                  std::to_string(n_layer) + " layers");
  auto backend = std::make_unique<cpu::CpuBackend>(model, *kernels, opts.threads, opts.first_layer, last);
  if (Status st = backend->load_weights(opts.progress); !st) return st.take_error();
  log::debugf("cpu backend: %s kernels, model %s, layers [%d, %d)", kernels->name, model.config().arch_name.c_str(),
              opts.first_layer, last);
  return std::unique_ptr<Backend>(std::move(backend));
}

Result<uint64_t> cpu_weight_bytes(const Model& model, int32_t first_layer, int32_t last_layer) {
  const ModelConfig& c = model.config();
  if (last_layer < 0) last_layer = c.n_layer;
  if (first_layer < 0 || first_layer >= last_layer || last_layer > c.n_layer)
    return Error(ErrorCode::invalid_argument, "bad layer range [" + std::to_string(first_layer) + ", " +
                                                  std::to_string(last_layer) + ")");
  uint64_t n = 0;
  // Consecutive parts that share a packed format are stacked (pack_linear).
  auto linear = [&](std::initializer_list<const WeightView*> parts) -> Status {
    std::vector<const WeightView*> v(parts);
    size_t i = 0;
    while (i < v.size()) {
      size_t j = i + 1;
      int64_t rows = v[i]->rows;
      while (j < v.size() && cpu::pack_format_for(v[j]->type) == cpu::pack_format_for(v[i]->type)) rows += v[j++]->rows;
      auto layout = cpu::packed_layout(cpu::pack_format_for(v[i]->type), rows, v[i]->cols, v[i]->name);
      if (!layout) return layout.take_error();
      n += layout->group_bytes * static_cast<uint64_t>(layout->groups);
      i = j;
    }
    return ok_status();
  };
  for (int l = first_layer; l < last_layer; ++l) {
    const LayerWeights& w = model.layer(l);
    LLMD_TRY(linear({&w.wq, &w.wk, &w.wv}));
    LLMD_TRY(linear({&w.wo}));
    LLMD_TRY(linear({&w.w_gate, &w.w_up}));
    LLMD_TRY(linear({&w.w_down}));
    n += static_cast<uint64_t>(2 * c.n_embd) * sizeof(float);
    if (c.qkv_bias) n += static_cast<uint64_t>(w.bq.cols + w.bk.cols + w.bv.cols) * sizeof(float);
  }
  if (last_layer == c.n_layer) {
    LLMD_TRY(linear({&model.output()}));
    n += static_cast<uint64_t>(c.n_embd) * sizeof(float);
  }
  return n;
}

}  // namespace llmd::engine
