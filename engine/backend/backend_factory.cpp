#include "engine/backend/backend_factory.hpp"

#include <charconv>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/cpu/kv_cache.hpp"
#if LLMD_HAVE_CUDA
#include "engine/cuda/copy_rate.hpp"
#include "engine/cuda/cuda_backend.hpp"
#include "engine/cuda/device_info.hpp"
#endif

namespace llmd::engine {
namespace {

bool is_type(gguf::GgmlType t, gguf::GgmlType want) { return t == want; }

// The element size the CUDA backend converts the matrices of `model` to
// (engine/cuda/cuda_weights.hpp: f32 when every matrix is F32, f16 when none
// is F32 or BF16, bf16 otherwise).
uint64_t cuda_matrix_elem_bytes(const Model& model) {
  const ModelConfig& c = model.config();
  bool all_f32 = true, any_f32 = false, any_bf16 = false;
  auto see = [&](const WeightView& v) {
    all_f32 = all_f32 && is_type(v.type, gguf::GgmlType::F32);
    any_f32 = any_f32 || is_type(v.type, gguf::GgmlType::F32);
    any_bf16 = any_bf16 || is_type(v.type, gguf::GgmlType::BF16);
  };
  see(model.output());
  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = model.layer(l);
    for (const WeightView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) see(*v);
  }
  return all_f32 ? 4 : 2;
}

uint64_t cuda_weight_bytes(const Model& model) {
  const ModelConfig& c = model.config();
  const uint64_t w = cuda_matrix_elem_bytes(model);
  const gguf::GgmlType et = model.token_embd().type;
  const uint64_t e = et == gguf::GgmlType::F32 ? 4 : (et == gguf::GgmlType::F16 || et == gguf::GgmlType::BF16) ? 2 : w;
  const uint64_t E = static_cast<uint64_t>(c.n_embd), V = static_cast<uint64_t>(c.n_vocab);
  const uint64_t Q = static_cast<uint64_t>(c.q_dim()), KV = static_cast<uint64_t>(c.kv_dim());
  const uint64_t F = static_cast<uint64_t>(c.n_ff), L = static_cast<uint64_t>(c.n_layer);
  uint64_t b = V * E * e + E * 4;  // embedding, output norm
  if (!c.tied_output) b += V * E * w;
  const uint64_t per_layer = ((Q + 2 * KV) * E + E * Q + 2 * F * E + E * F) * w + 2 * E * 4 +
                             (c.qkv_bias ? (Q + 2 * KV) * 4 : 0);
  return b + L * per_layer;
}

}  // namespace

std::string DeviceName::str() const {
  const char* k = kind == DeviceKind::cpu ? "cpu" : "cuda";
  return index < 0 ? std::string(k) : std::string(k) + ":" + std::to_string(index);
}

Result<DeviceName> parse_device_name(std::string_view name) {
  DeviceName d;
  std::string_view rest;
  if (name.starts_with("cpu")) {
    d.kind = DeviceKind::cpu;
    rest = name.substr(3);
  } else if (name.starts_with("cuda")) {
    d.kind = DeviceKind::cuda;
    rest = name.substr(4);
  } else {
    return Error(ErrorCode::invalid_argument, "unknown device '" + std::string(name) + "' (cpu, cpu:N, cuda:N)");
  }
  if (rest.empty()) return d;
  int v = -1;
  auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), v);
  if (rest[0] != ':' || rest.size() < 2 || ec != std::errc() || end != rest.data() + rest.size() || v < 0 || v > 255) {
    return Error(ErrorCode::invalid_argument, "bad device '" + std::string(name) + "' (cpu, cpu:N, cuda:N)");
  }
  d.index = v;
  return d;
}

bool cuda_backend_built() {
#if LLMD_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

Result<std::unique_ptr<Backend>> make_backend(const Model& model, const BackendOptions& o) {
  auto dev = parse_device_name(o.device);
  if (!dev) return dev.take_error();
  if (dev->kind == DeviceKind::cpu) {
    CpuBackendOptions c;
    c.threads = o.threads;
    c.isa = o.isa;
    c.progress = o.progress;
    return make_cpu_backend(model, c);
  }
#if LLMD_HAVE_CUDA
  cuda::CudaBackendOptions c;
  c.device = dev->index < 0 ? 0 : dev->index;
  if (o.max_batch_tokens > 0) c.max_batch_tokens = o.max_batch_tokens;
  if (o.max_context > 0) c.max_context = o.max_context;
  auto b = cuda::make_cuda_backend(model, c);
  if (b && o.progress) o.progress(model.weight_bytes(), model.weight_bytes());
  return b;
#else
  return Error(ErrorCode::no_gpu,
               "no GPU: llmd was built without CUDA (configure with -DLLMD_CUDA=ON where nvcc is installed)");
#endif
}

uint64_t kv_block_bytes_on(DeviceKind kind, const ModelConfig& config, const KvCacheShape& shape) {
  if (kind == DeviceKind::cpu) return cpu::CpuKvCache::block_bytes(config, shape);
  if (shape.dtype != KvDtype::f16 && shape.dtype != KvDtype::f32) return 0;
  const uint64_t esz = shape.dtype == KvDtype::f16 ? 2 : 4;
  return 2ull * static_cast<uint64_t>(config.n_layer) * static_cast<uint64_t>(config.n_head_kv) *
         static_cast<uint64_t>(shape.block_size) * static_cast<uint64_t>(config.head_dim) * esz;
}

Result<MemoryEstimate> estimate_memory(const Model& model, DeviceKind kind, const KvCacheShape& kv,
                                       int max_batch_tokens) {
  const ModelConfig& c = model.config();
  MemoryEstimate m;
  const uint64_t block = kv_block_bytes_on(kind, c, kv);
  if (block == 0) return Error(ErrorCode::kv_unsupported_dtype, "this device does not keep the KV-cache in that type");
  m.kv = block * static_cast<uint64_t>(kv.n_blocks);
  const uint64_t T = static_cast<uint64_t>(std::max(max_batch_tokens, 1));
  const uint64_t E = static_cast<uint64_t>(c.n_embd), F = static_cast<uint64_t>(c.n_ff);
  const uint64_t QKV = static_cast<uint64_t>(c.q_dim() + 2 * c.kv_dim()), V = static_cast<uint64_t>(c.n_vocab);
  // Activations of one step in f32: residual, normalised, QKV, attention
  // output, gate/up, hidden, and logits of up to every row.
  const uint64_t activations = T * (3 * E + QKV + 2 * F + V) * 4;
  if (kind == DeviceKind::cpu) {
    auto w = cpu_weight_bytes(model);
    if (!w) return w.take_error();
    m.weights = *w;
    m.workspace = activations + T * (E + F) * 2;  // int8 activations and their scales
  } else {
    m.weights = cuda_weight_bytes(model);
    // cuBLASLt workspace, step inputs, decode graphs and the split attention's partials.
    m.workspace = activations + (64ull << 20);
  }
  return m;
}

std::vector<GpuInfo> list_gpus(std::string* why) {
  std::vector<GpuInfo> out;
#if LLMD_HAVE_CUDA
  auto devices = cuda::list_devices();
  if (!devices) {
    if (why) *why = devices.error().message;
    return out;
  }
  for (const auto& d : *devices) out.push_back(GpuInfo{d.index, d.name, d.total_bytes, d.free_bytes});
#else
  if (why) *why = "llmd was built without CUDA";
#endif
  return out;
}

std::optional<double> pinned_copy_rate(int index) {
#if LLMD_HAVE_CUDA
  auto r = cuda::measure_pinned_copy_rate(index);
  if (r) return *r;
#else
  (void)index;
#endif
  return std::nullopt;
}

}  // namespace llmd::engine
