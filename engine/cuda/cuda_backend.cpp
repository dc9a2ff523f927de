#include "engine/cuda/cuda_backend.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "base/log.hpp"
#include "engine/cuda/cuda_backend_impl.hpp"
#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/kv_q8.hpp"
#include "engine/cuda/kernels/rope_kv.hpp"

namespace llmd::engine::cuda {
namespace {

constexpr size_t kGemmWorkspace = size_t{32} << 20;

int pow2_at_least(int v, int lo) {
  int p = lo;
  while (p < v) p <<= 1;
  return p;
}

// Inverse RoPE frequencies for a configuration without a file (random
// weights): base^(-2i/n_rot), divided by a linear scaling factor.
std::vector<double> default_inv_freq(const ModelConfig& c) {
  const int half = c.n_rot / 2;
  std::vector<double> f(static_cast<size_t>(std::max(half, 0)));
  const double linear = c.rope_scaling == RopeScaling::linear && c.rope_scale_factor > 0 ? c.rope_scale_factor : 1.0;
  for (int i = 0; i < half; ++i) {
    f[static_cast<size_t>(i)] = std::pow(static_cast<double>(c.rope_freq_base), -2.0 * i / c.n_rot) / linear;
  }
  return f;
}

}  // namespace

// ---------------------------------------------------------------------------
// CudaBackendImpl: construction and the KV pool
// ---------------------------------------------------------------------------

CudaBackendImpl::~CudaBackendImpl() {
  if (dev_.name.empty()) return;  // never opened
  (void)cudaSetDevice(dev_.index);
  if (stream_) (void)cudaStreamSynchronize(stream_);
  clear_graphs();
  if (stream_) (void)cudaStreamDestroy(stream_);
}

Status CudaBackendImpl::open_device() {
  auto d = device_info(opts_.device);
  if (!d) return d.take_error();
  if (d->cc_major < 8) {
    return Error(errc::kUnsupported, "the CUDA backend needs compute capability 8.0 or newer; device " +
                                         std::to_string(d->index) + " is " + describe(*d));
  }
  dev_ = std::move(*d);
  LLMD_CUDA_TRY(health_, cudaSetDevice(dev_.index));
  LLMD_CUDA_TRY(health_, cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  auto ws = pool_.alloc(kGemmWorkspace, "cuBLASLt workspace");
  if (!ws) return ws.take_error();
  gemm_ws_ = *ws;
  LLMD_TRY(gemm_.init(gemm_ws_, kGemmWorkspace));
  return ok_status();
}

Status CudaBackendImpl::load(const Model& model) {
  const DType wtype = choose_weight_type(model);
  LLMD_TRY(upload_weights(model, wtype, opts_.quantized_weights, pool_, health_, stream_, &w_));
  act_ = w_.wtype;
  return prepare(model.rope_inv_freq());
}

Status CudaBackendImpl::load_random(DType wtype, uint64_t seed) {
  LLMD_TRY(random_weights(cfg_, wtype, seed, pool_, health_, stream_, &w_));
  act_ = w_.wtype;
  return prepare(default_inv_freq(cfg_));
}

Status CudaBackendImpl::prepare(const std::vector<double>& inv_freq) {
  const ModelConfig& c = cfg_;
  if (!attention_tokens_supported(c.head_dim, c.n_head, c.n_head_kv)) {
    return Error(errc::kUnsupported, "the CUDA backend does not support head_dim " + std::to_string(c.head_dim) +
                                         " with " + std::to_string(c.n_head) + "/" + std::to_string(c.n_head_kv) +
                                         " query/KV heads (head_dim 8..256, a power of two; at most " +
                                         std::to_string(kAttnMaxGroup) + " query heads per KV head)");
  }
  if (c.qk_norm) {
    return Error(errc::kUnsupported, "the CUDA backend does not implement the " + c.arch_name +
                                         " architecture (per-head Q/K norm); place this model on the CPU");
  }
  if (c.is_embedding()) {
    return Error(errc::kUnsupported, std::string("the CUDA backend does not compute embeddings (pooling ") +
                                         pooling_name(c.pooling) + "); place this embedding model on the CPU");
  }
  if (c.n_rot < 0 || c.n_rot > c.head_dim || c.n_rot % 2 != 0 || inv_freq.size() != static_cast<size_t>(c.n_rot / 2)) {
    return Error(errc::kUnsupported, "bad RoPE dimension count " + std::to_string(c.n_rot));
  }
  if (opts_.max_batch_tokens < 1 || opts_.max_seqs < 1) {
    return Error(errc::kUnsupported, "max_batch_tokens and max_seqs must be positive");
  }
  max_pos_ = opts_.max_context > 0 ? opts_.max_context : (c.n_ctx_train > 0 ? c.n_ctx_train : 4096);

  // RoPE table, computed on the device in double precision.
  const int half = c.n_rot / 2;
  if (half > 0) {
    auto table = pool_.alloc_array<float>(static_cast<size_t>(max_pos_) * half * 2, "RoPE table");
    if (!table) return table.take_error();
    rope_cs_ = *table;
    DeviceBuffer freq;
    LLMD_TRY(freq.allocate(health_, inv_freq.size() * sizeof(double), "RoPE frequencies"));
    LLMD_CUDA_TRY(health_, cudaMemcpyAsync(freq.get(), inv_freq.data(), inv_freq.size() * sizeof(double),
                                           cudaMemcpyHostToDevice, stream_));
    LLMD_CUDA_TRY(health_, launch_rope_table(freq.as<double>(), half, max_pos_, rope_cs_, stream_));
    LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream_));
  } else {
    auto table = pool_.alloc_array<float>(2, "RoPE table");
    if (!table) return table.take_error();
    rope_cs_ = *table;
  }

  // Activation buffers.
  max_tokens_ = opts_.max_batch_tokens;
  head_rows_ = std::min(max_tokens_, std::max(opts_.max_seqs, 64));
  const size_t T = static_cast<size_t>(max_tokens_);
  const size_t E = static_cast<size_t>(c.n_embd), Q = static_cast<size_t>(c.q_dim()),
               KV = static_cast<size_t>(c.kv_dim()), F = static_cast<size_t>(c.n_ff),
               V = static_cast<size_t>(c.n_vocab);
  const size_t a = dtype_size(act_);
  auto get = [&](size_t bytes, const char* what, void** p) -> Status {
    auto r = pool_.alloc(bytes, what);
    if (!r) return r.take_error();
    *p = *r;
    return ok_status();
  };
  LLMD_TRY(get(T * E * 4, "residual stream", reinterpret_cast<void**>(&x_)));
  LLMD_TRY(get(T * E * a, "normalized activations", &xn_));
  LLMD_TRY(get(T * (Q + 2 * KV) * 4, "QKV activations", reinterpret_cast<void**>(&qkv_)));
  LLMD_TRY(get(T * Q * 4, "queries", reinterpret_cast<void**>(&q_)));
  LLMD_TRY(get(T * Q * a, "attention output", &attn_));
  LLMD_TRY(get(T * 2 * F * 4, "gate/up activations", reinterpret_cast<void**>(&gu_)));
  LLMD_TRY(get(T * F * a, "FFN activations", &h_));
  LLMD_TRY(get(static_cast<size_t>(head_rows_) * V * 4, "logits", reinterpret_cast<void**>(&logits_)));
  LLMD_TRY(get(static_cast<size_t>(head_rows_) * 4, "sampled ids", reinterpret_cast<void**>(&ids_)));
  const size_t partials = static_cast<size_t>(kMaxAttnPartials) * static_cast<size_t>(c.n_head);
  LLMD_TRY(get(partials * static_cast<size_t>(c.head_dim) * 4, "attention partials",
                      reinterpret_cast<void**>(&part_o_)));
  LLMD_TRY(get(partials * 2 * 4, "attention partial sums", reinterpret_cast<void**>(&part_ml_)));
  LLMD_TRY(ids_host_.allocate(health_, static_cast<size_t>(head_rows_) * 4, "sampled ids"));
  LLMD_TRY(prepare_dequant_scratch());
  if (opts_.tune_gemms) LLMD_TRY(tune_gemms());
  return ok_status();
}

Status CudaBackendImpl::tune_gemms() {
  const ModelConfig& c = cfg_;
  if (c.n_layer <= 0 || w_.layers.empty()) return ok_status();
  const int E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
  const size_t T = static_cast<size_t>(max_tokens_), a = dtype_size(act_);
  // The forward pass's own buffers (so the same cached plans, alignments
  // included); they hold nothing yet. Zeroed so the timings see numbers.
  LLMD_CUDA_TRY(health_, cudaMemsetAsync(xn_, 0, T * static_cast<size_t>(E) * a, stream_));
  LLMD_CUDA_TRY(health_, cudaMemsetAsync(attn_, 0, T * static_cast<size_t>(Q) * a, stream_));
  LLMD_CUDA_TRY(health_, cudaMemsetAsync(h_, 0, T * static_cast<size_t>(F) * a, stream_));
  LLMD_CUDA_TRY(health_, cudaMemsetAsync(x_, 0, T * static_cast<size_t>(E) * 4, stream_));
  const DeviceLayer& L = w_.layers[0];
  // A quantized matrix's GEMMs read the scratch copy (the same shapes).
  auto dense = [&](const DeviceMatrix& m) { return m.dense() ? m.parts[0].w : dq_scratch_; };
  const DType gu_type = opts_.gate_up_16bit && act_ != DType::f32 ? act_ : DType::f32;
  constexpr int kMinTunedTokens = 256;  // below that a step is mostly decode-sized
  std::string summary;
  int last_n = 0;
  for (int n : {max_tokens_, max_tokens_ / 2, max_tokens_ / 4}) {
    if (n < kMinTunedTokens || n == last_n || n <= opts_.gemv_max_tokens) continue;
    last_n = n;
    const GemmArgs shapes[] = {
        {dense(L.wqkv), act_, xn_, act_, qkv_, DType::f32, Q + 2 * KV, n, E, false},
        {dense(L.wo), act_, attn_, act_, x_, DType::f32, E, n, Q, true},
        {dense(L.wgu), act_, xn_, act_, gu_, gu_type, 2 * F, n, E, false},
        {dense(L.wdown), act_, h_, act_, x_, DType::f32, E, n, F, true},
    };
    summary += " n=" + std::to_string(n) + ":";
    for (const GemmArgs& g : shapes) {
      auto r = gemm_.tune(g, stream_);
      if (!r) {
        if (!health_.healthy()) return r.take_error();
        llmd::log::warnf("cuda: GEMM tuning skipped: %s", r.error().message.c_str());
        return ok_status();
      }
      summary += " #" + std::to_string(*r);
    }
  }
  if (!summary.empty()) llmd::log::infof("cuda: tuned prefill GEMMs (qkv, o, gate/up, down)%s", summary.c_str());
  return ok_status();
}

uint64_t CudaBackendImpl::kv_block_bytes(const KvCacheShape& shape) const {
  if (shape.dtype == KvDtype::q8_0) {
    const KvQ8Layout q8{cfg_.n_head_kv, shape.block_size, cfg_.head_dim};
    return q8.valid() ? 2ull * static_cast<uint64_t>(cfg_.n_layer) * q8.block_bytes() : 0;
  }
  if (shape.dtype != KvDtype::f16 && shape.dtype != KvDtype::f32) return 0;
  const uint64_t esz = shape.dtype == KvDtype::f16 ? 2 : 4;
  return 2ull * static_cast<uint64_t>(cfg_.n_layer) * static_cast<uint64_t>(cfg_.n_head_kv) *
         static_cast<uint64_t>(shape.block_size) * static_cast<uint64_t>(cfg_.head_dim) * esz;
}

Status CudaBackendImpl::init_kv(const KvCacheShape& shape) {
  if (!health_.healthy()) return health_.failed_error();
  if (shape.dtype == KvDtype::q8_0 && !KvQ8Layout{cfg_.n_head_kv, shape.block_size, cfg_.head_dim}.valid()) {
    return Error(errc::kKvUnsupportedDtype,
                 "a q8_0 KV-cache on the GPU needs a head dimension that is a multiple of 32 (up to 256) and blocks "
                 "of a multiple of 256 bytes of values; head dimension " + std::to_string(cfg_.head_dim) +
                     ", block size " + std::to_string(shape.block_size));
  }
  if (shape.n_blocks <= 0 || shape.block_size <= 0 || shape.block_size > 4096) {
    return Error(errc::kKvBadShape, "bad KV pool shape: " + std::to_string(shape.n_blocks) + " blocks of " +
                                         std::to_string(shape.block_size) + " tokens");
  }
  LLMD_CUDA_TRY(health_, cudaSetDevice(dev_.index));
  LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream_));
  clear_graphs();
  kv_ready_ = false;
  kv_.reset();
  kv_rows_.reset();
  const uint64_t block = kv_block_bytes(shape);
  const uint64_t total = block * static_cast<uint64_t>(shape.n_blocks);
  LLMD_TRY(kv_.allocate(health_, total, "KV-cache"));
  kv_shape_ = shape;
  kv_half_bytes_ = total / (2ull * static_cast<uint64_t>(cfg_.n_layer));
  if (shape.dtype == KvDtype::q8_0) {
    // The rotated keys and values of a step, before they are quantized.
    LLMD_TRY(kv_rows_.allocate(health_, kv_rows_bytes(), "q8_0 KV staging rows"));
  }

  // Step inputs: tokens, positions, sequences, rows, decode list (5 T), tiles
  // (4 per tile, at most T/64 + S tiles), block tables (S rows of the widest
  // power-of-two stride), seeds (2 per row), split length and alignment.
  const size_t T = static_cast<size_t>(max_tokens_), S = static_cast<size_t>(opts_.max_seqs);
  const size_t stride = static_cast<size_t>(
      pow2_at_least((max_pos_ + shape.block_size - 1) / shape.block_size, 8));
  in_cap_words_ = 5 * T + 4 * (T / 64 + S + 1) + S * stride + 2 * T + 4;
  LLMD_TRY(in_host_.allocate(health_, in_cap_words_ * 4, "step inputs"));
  LLMD_TRY(in_dev_.allocate(health_, in_cap_words_ * 4, "step inputs"));
  kv_ready_ = true;
  return ok_status();
}

Status CudaBackendImpl::copy_kv_block(int32_t src, int32_t dst) {
  if (!health_.healthy()) return health_.failed_error();
  if (!kv_ready_) return Error(errc::kKvNotInitialized, "copy_kv_block before init_kv");
  if (src < 0 || dst < 0 || src >= kv_shape_.n_blocks || dst >= kv_shape_.n_blocks) {
    return Error(errc::kKvBadBlock, "copy_kv_block: block " + std::to_string(src < 0 || src >= kv_shape_.n_blocks ? src : dst) +
                                      " out of range");
  }
  LLMD_CUDA_TRY(health_, cudaSetDevice(dev_.index));
  const size_t block = kv_half_bytes_ / static_cast<size_t>(kv_shape_.n_blocks);
  LLMD_CUDA_TRY(health_, launch_copy_kv_block(kv_.get(), kv_half_bytes_, 2 * cfg_.n_layer, block, src, dst, stream_));
  return ok_status();
}

void CudaBackendImpl::clear_graphs() {
  for (auto& [k, g] : graphs_) (void)cudaGraphExecDestroy(g);
  graphs_.clear();
  seen_.clear();
}

// ---------------------------------------------------------------------------
// CudaBackend
// ---------------------------------------------------------------------------

CudaBackend::CudaBackend(std::unique_ptr<CudaBackendImpl> impl) : impl_(std::move(impl)) {}
CudaBackend::~CudaBackend() = default;

Result<std::unique_ptr<CudaBackend>> CudaBackend::create(const Model& model, const CudaBackendOptions& opts) {
  auto impl = std::make_unique<CudaBackendImpl>(model.config(), opts);
  LLMD_TRY(impl->open_device());
  LLMD_TRY(impl->load(model));
  auto b = std::unique_ptr<CudaBackend>(new CudaBackend(std::move(impl)));
  llmd::log::infof("cuda: %s", b->describe().c_str());
  return b;
}

Result<std::unique_ptr<CudaBackend>> CudaBackend::create_random(const ModelConfig& cfg, DType weight_type,
                                                                uint64_t seed, const CudaBackendOptions& opts) {
  auto impl = std::make_unique<CudaBackendImpl>(cfg, opts);
  LLMD_TRY(impl->open_device());
  LLMD_TRY(impl->load_random(weight_type, seed));
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(impl)));
}

std::string CudaBackend::name() const { return "cuda:" + std::to_string(impl_->device().index); }
Status CudaBackend::init_kv(const KvCacheShape& shape) { return impl_->init_kv(shape); }
uint64_t CudaBackend::kv_block_bytes(const KvCacheShape& shape) const { return impl_->kv_block_bytes(shape); }
Status CudaBackend::forward(const ForwardBatch& batch, ForwardOutput* out) {
  if (!out) return Error(errc::kBadBatch, "forward needs an output");
  return impl_->forward(batch, out, nullptr, nullptr);
}
Status CudaBackend::forward_sample(const ForwardBatch& batch, const DeviceSampling& sampling,
                                   std::vector<int32_t>* ids) {
  if (!ids) return Error(errc::kBadBatch, "forward_sample needs an output");
  return impl_->forward(batch, nullptr, &sampling, ids);
}
Status CudaBackend::copy_kv_block(int32_t src, int32_t dst) { return impl_->copy_kv_block(src, dst); }
bool CudaBackend::healthy() const { return impl_->health().healthy(); }
const DeviceInfo& CudaBackend::device() const { return impl_->device(); }
DType CudaBackend::weight_type() const { return impl_->weights().wtype; }
uint64_t CudaBackend::weight_bytes() const { return impl_->weights().bytes; }
CudaBackendStats CudaBackend::stats() const { return impl_->stats(); }

std::string CudaBackend::describe() const {
  const auto& o = impl_->options();
  const auto& w = impl_->weights();
  char quant[64] = "";
  if (w.quantized_parts > 0) std::snprintf(quant, sizeof quant, " (%d matrices kept quantized)", w.quantized_parts);
  char buf[600];
  std::snprintf(buf, sizeof buf, "%s %s: weights %s %.2f GiB%s, %d layers, max %d tokens x %d sequences per step, graphs %s, "
                "programmatic launch %s, gate/up %s, norm %s, decode RoPE %s, prefill attention %s, GEMMs %s",
                name().c_str(), cuda::describe(impl_->device()).c_str(), dtype_name(weight_type()),
                static_cast<double>(weight_bytes()) / (1ull << 30), quant, impl_->config().n_layer, o.max_batch_tokens,
                o.max_seqs, o.cuda_graphs ? "on" : "off", impl_->programmatic() ? "on" : "off",
                o.gate_up_16bit ? "16-bit" : "f32", o.fuse_norm_gemv ? "fused into GEMVs" : "separate",
                o.fuse_rope_decode ? "in attention" : "separate", o.prefill_pipelined ? "pipelined" : "single-buffered",
                o.tune_gemms ? "tuned" : "heuristic");
  return buf;
}

Result<std::unique_ptr<Backend>> make_cuda_backend(const Model& model, const CudaBackendOptions& opts) {
  auto b = CudaBackend::create(model, opts);
  if (!b) return b.take_error();
  return std::unique_ptr<Backend>(std::move(*b));
}

}  // namespace llmd::engine::cuda
