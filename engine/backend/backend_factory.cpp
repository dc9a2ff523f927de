#include "engine/backend/backend_factory.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>

#include "engine/backend/split_backend.hpp"
#include "engine/cpu/cpu_backend.hpp"
#include "engine/cpu/kv_cache.hpp"
#include "engine/quant/device_layout.hpp"
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

// Whether the CUDA backend keeps a tensor quantized in device memory
// (CudaBackendOptions::quantized_weights, on in the backends made here).
bool cuda_keeps_quantized(const WeightView& v) {
  return quant::is_quantized_device_type(v.type) && quant::device_layout(v.type, v.rows, v.cols).ok();
}

// Device bytes of one projection's tensors as cuda_weights.cpp stores them:
// a run of tensors kept quantized in one type is one matrix in the device
// layout, the others take dense_elem bytes per weight. Sets *quantized when
// any tensor stays quantized.
uint64_t cuda_projection_bytes(std::initializer_list<const WeightView*> views, uint64_t dense_elem, bool* quantized) {
  uint64_t b = 0;
  const WeightView* run = nullptr;
  int64_t run_rows = 0;
  auto flush = [&] {
    if (!run) return;
    auto l = quant::device_layout(run->type, run_rows, run->cols);
    b += l ? l->total_bytes : static_cast<uint64_t>(run_rows) * run->row_bytes;
    run = nullptr;
    run_rows = 0;
  };
  for (const WeightView* v : views) {
    if (cuda_keeps_quantized(*v)) {
      *quantized = true;
      if (run && run->type == v->type) {
        run_rows += v->rows;
      } else {
        flush();
        run = v;
        run_rows = v->rows;
      }
    } else {
      flush();
      b += static_cast<uint64_t>(v->rows) * static_cast<uint64_t>(v->cols) * dense_elem;
    }
  }
  flush();
  return b;
}

struct CudaWeightSizes {
  uint64_t weights = 0;
  // The scratch a quantized matrix is dequantized into for the GEMMs, the
  // output head's chunk buffer, and the quantized tensor-core kernel's split
  // partials (cuda_project_quant.cpp).
  uint64_t scratch = 0;
};

CudaWeightSizes cuda_weight_bytes(const Model& model, uint64_t max_batch_tokens) {
  const ModelConfig& c = model.config();
  const uint64_t w = cuda_matrix_elem_bytes(model);
  const gguf::GgmlType et = model.token_embd().type;
  const uint64_t e = c.tied_output ? w
                     : et == gguf::GgmlType::F32 ? 4
                     : (et == gguf::GgmlType::F16 || et == gguf::GgmlType::BF16) ? 2
                                                                                  : w;
  const uint64_t E = static_cast<uint64_t>(c.n_embd);
  CudaWeightSizes s;
  bool embd_q = false, head_q = false;
  s.weights = cuda_projection_bytes({&model.token_embd()}, e, &embd_q) + E * 4;  // embedding, output norm
  if (!c.tied_output) s.weights += cuda_projection_bytes({&model.output()}, w, &head_q);
  const WeightView& head = c.tied_output ? model.token_embd() : model.output();
  head_q = c.tied_output ? embd_q : head_q;
  uint64_t scratch_elems = 0;
  auto add = [&](std::initializer_list<const WeightView*> views) {
    bool q = false;
    s.weights += cuda_projection_bytes(views, w, &q);
    uint64_t rows = 0;
    for (const WeightView* v : views) rows += static_cast<uint64_t>(v->rows);
    if (q) scratch_elems = std::max(scratch_elems, rows * static_cast<uint64_t>((*views.begin())->cols));
  };
  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = model.layer(l);
    add({&L.wq, &L.wk, &L.wv});
    add({&L.wo});
    add({&L.w_gate, &L.w_up});
    add({&L.w_down});
    s.weights += 2 * E * 4 + (c.qkv_bias ? static_cast<uint64_t>(c.q_dim() + 2 * c.kv_dim()) * 4 : 0);
  }
  if (head_q && head.cols > 0) {
    const uint64_t cols = static_cast<uint64_t>(head.cols), rows = static_cast<uint64_t>(head.rows);
    const uint64_t chunk = std::min(rows, std::max<uint64_t>(scratch_elems, 16ull << 20) / cols);
    scratch_elems = std::max(scratch_elems, chunk * cols);
    // Logits rows per head pass: at most the default 256 sequences.
    if (chunk < rows) s.scratch += std::min<uint64_t>(max_batch_tokens, 256) * chunk * 4;
  }
  s.scratch += scratch_elems * w;
  // 64 KiB per multiprocessor (gemm_quant_partial_floats), counted for 192.
  constexpr uint64_t kQmmPartialBytes = 192ull * 64 * 1024;
  if (scratch_elems > 0) s.scratch += kQmmPartialBytes;
  return s;
}

}  // namespace

bool cuda_backend_built() {
#if LLMD_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

namespace {

// The comma-separated items of `list`, empty ones included ("" is one item).
std::vector<std::string_view> split_commas(std::string_view list) {
  std::vector<std::string_view> out;
  for (size_t at = 0;;) {
    const size_t comma = list.find(',', at);
    if (comma == std::string_view::npos) {
      out.push_back(list.substr(at));
      return out;
    }
    out.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
}

}  // namespace

Result<std::vector<std::string>> parse_device_list(std::string_view list) {
  std::vector<std::string> out;
  for (std::string_view item : split_commas(list)) {
    LLMD_TRY(parse_device_name(item));
    out.emplace_back(item);
  }
  return out;
}

Result<std::vector<int32_t>> parse_layer_split(std::string_view list) {
  std::vector<int32_t> out;
  for (std::string_view item : split_commas(list)) {
    int32_t v = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || v < 1 || v > 100000)
      return Error(ErrorCode::invalid_argument,
                   "bad layer split '" + std::string(list) + "': give layer counts of at least 1, like 3,2");
    out.push_back(v);
  }
  return out;
}

Result<std::vector<LayerRange>> plan_layer_split(int32_t n_layer, size_t n_devices,
                                                 const std::vector<int32_t>& layer_split) {
  if (n_devices == 0) return Error(ErrorCode::invalid_argument, "a split needs at least one device");
  if (static_cast<int64_t>(n_devices) > n_layer)
    return Error(ErrorCode::invalid_argument, "cannot split " + std::to_string(n_layer) + " layers over " +
                                                  std::to_string(n_devices) + " devices");
  std::vector<int32_t> counts = layer_split;
  if (counts.empty()) {
    const int32_t n = static_cast<int32_t>(n_devices);
    for (int32_t i = 0; i < n; ++i) counts.push_back(n_layer / n + (i < n_layer % n ? 1 : 0));
  }
  if (counts.size() != n_devices)
    return Error(ErrorCode::invalid_argument, "the layer split has " + std::to_string(counts.size()) +
                                                  " counts for " + std::to_string(n_devices) + " devices");
  std::vector<LayerRange> out;
  int64_t next = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] <= 0)
      return Error(ErrorCode::invalid_argument, "device " + std::to_string(i) + " of the split is given " +
                                                    std::to_string(counts[i]) + " layers; each needs at least 1");
    if (next + counts[i] > n_layer) break;  // reported below with the sum
    out.push_back({static_cast<int32_t>(next), static_cast<int32_t>(next + counts[i]), n_layer});
    next += counts[i];
  }
  int64_t sum = 0;
  for (int32_t c : counts) sum += c;
  if (sum != n_layer)
    return Error(ErrorCode::invalid_argument, "the layer split sums to " + std::to_string(sum) +
                                                  " layers; the model has " + std::to_string(n_layer));
  return out;
}

namespace {

// One backend for `device` running `range` of the model.
Result<std::unique_ptr<Backend>> make_stage(const Model& model, const BackendOptions& o, const DeviceName& dev,
                                            LayerRange range,
                                            std::function<void(uint64_t done, uint64_t total)> progress) {
  const bool whole = range.first == 0 && range.last == model.config().n_layer;
  if (dev.kind == DeviceKind::cpu) {
    CpuBackendOptions c;
    c.threads = o.threads;
    c.isa = o.isa;
    c.progress = std::move(progress);
    c.first_layer = range.first;
    c.last_layer = range.last;
    return make_cpu_backend(model, c);
  }
#if LLMD_HAVE_CUDA
  if (!whole)
    return Error(ErrorCode::unsupported, "the CUDA backend cannot run a range of layers (" + dev.str() + ", layers [" +
                                             std::to_string(range.first) + ", " + std::to_string(range.last) + "))");
  cuda::CudaBackendOptions c;
  c.device = dev.index < 0 ? 0 : dev.index;
  if (o.max_batch_tokens > 0) c.max_batch_tokens = o.max_batch_tokens;
  if (o.max_context > 0) c.max_context = o.max_context;
  auto b = cuda::make_cuda_backend(model, c);
  if (b && progress) progress(model.weight_bytes(), model.weight_bytes());
  return b;
#else
  (void)whole;
  return Error(ErrorCode::no_gpu,
               "no GPU: llmd was built without CUDA (configure with -DLLMD_CUDA=ON where nvcc is installed)");
#endif
}

}  // namespace

Result<std::unique_ptr<Backend>> make_backend(const Model& model, const BackendOptions& o) {
  const int32_t n_layer = model.config().n_layer;
  const std::vector<std::string> devices = o.devices.empty() ? std::vector<std::string>{o.device} : o.devices;
  // Every name and the split are checked before any weight is converted.
  std::vector<DeviceName> names;
  for (const std::string& d : devices) {
    auto dev = parse_device_name(d);
    if (!dev) return dev.take_error();
    names.push_back(*dev);
  }
  auto ranges = plan_layer_split(n_layer, names.size(), o.layer_split);
  if (!ranges) return ranges.take_error();
  if (names.size() == 1) return make_stage(model, o, names[0], (*ranges)[0], o.progress);

  // Progress: stage i covers the i-th of n equal parts of the model's bytes.
  const uint64_t total = model.weight_bytes();
  const uint64_t n = names.size();
  std::vector<SplitStage> stages;
  for (size_t i = 0; i < names.size(); ++i) {
    std::function<void(uint64_t, uint64_t)> progress;
    if (o.progress) {
      progress = [&o, total, n, i](uint64_t done, uint64_t stage_total) {
        const double part = stage_total ? static_cast<double>(done) / static_cast<double>(stage_total) : 1.0;
        o.progress(static_cast<uint64_t>((static_cast<double>(i) + part) / static_cast<double>(n) *
                                         static_cast<double>(total)),
                   total);
      };
    }
    auto b = make_stage(model, o, names[i], (*ranges)[i], std::move(progress));
    if (!b) return b.error().with_context(devices[i] + ": ");
    stages.push_back({devices[i], std::move(*b)});
  }
  return make_split_backend(std::move(stages), n_layer, model.config().n_vocab);
}

uint64_t kv_block_bytes_on(DeviceKind kind, const ModelConfig& config, const KvCacheShape& shape) {
  if (kind == DeviceKind::cpu) return cpu::CpuKvCache::block_bytes(config, shape);
  if (shape.dtype == KvDtype::q8_0) {
    // engine/cuda/kernels/kv_q8.hpp: int8 values and an f16 scale per 32,
    // head dimensions a multiple of 32 up to 256, a block's values a
    // multiple of 256 bytes.
    const int hd = config.head_dim;
    const uint64_t values = static_cast<uint64_t>(config.n_head_kv) * static_cast<uint64_t>(shape.block_size) *
                            static_cast<uint64_t>(hd);
    if (hd < 32 || hd > 256 || hd % 32 != 0 || values == 0 || values % 256 != 0) return 0;
    return 2ull * static_cast<uint64_t>(config.n_layer) * values * 17 / 16;
  }
  if (shape.dtype != KvDtype::f16 && shape.dtype != KvDtype::f32) return 0;
  const uint64_t esz = shape.dtype == KvDtype::f16 ? 2 : 4;
  return 2ull * static_cast<uint64_t>(config.n_layer) * static_cast<uint64_t>(config.n_head_kv) *
         static_cast<uint64_t>(shape.block_size) * static_cast<uint64_t>(config.head_dim) * esz;
}

Result<MemoryEstimate> estimate_memory(const Model& model, DeviceKind kind, const KvCacheShape& kv,
                                       int max_batch_tokens) {
  const ModelConfig& c = model.config();
  // What the CUDA backend refuses at creation (cuda_backend.cpp) cannot be
  // placed on a GPU: "auto" placement then goes to the CPU.
  if (kind == DeviceKind::cuda && (c.qk_norm || c.is_embedding())) {
    return Error(ErrorCode::cuda_unsupported, std::string("the CUDA backend does not run ") +
                                                  (c.qk_norm ? "the " + c.arch_name + " architecture" : "embedding models") +
                                                  "; place this model on the CPU");
  }
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
    const CudaWeightSizes sizes = cuda_weight_bytes(model, T);
    m.weights = sizes.weights;
    // cuBLASLt workspace, step inputs, decode graphs and the split attention's
    // partials; and the device sampler's scratch, one processed row of logits
    // per plan of a launch (device_sampler.hpp).
    constexpr uint64_t kSamplerRows = 64;
    m.workspace = activations + (64ull << 20) + kSamplerRows * V * 4 + sizes.scratch;
    // A q8_0 cache stages a step's rotated keys and values in f32.
    if (kv.dtype == KvDtype::q8_0) m.workspace += T * 2 * static_cast<uint64_t>(c.kv_dim()) * 4;
  }
  return m;
}

Result<MemoryEstimate> estimate_stage_memory(const Model& model, DeviceKind kind, const KvCacheShape& kv,
                                             int max_batch_tokens, const LayerRange& layers) {
  auto whole = estimate_memory(model, kind, kv, max_batch_tokens);
  if (!whole) return whole;
  const int32_t n = model.config().n_layer;
  if (layers.first <= 0 && (layers.last >= n || layers.last <= 0)) return whole;
  MemoryEstimate m = *whole;
  const uint64_t count = static_cast<uint64_t>(layers.count());
  m.kv = whole->kv / static_cast<uint64_t>(n) * count;
  if (kind == DeviceKind::cpu) {
    auto w = cpu_weight_bytes(model, layers.first, layers.last);
    if (!w) return w.take_error();
    m.weights = *w;
  } else {
    m.weights = whole->weights / static_cast<uint64_t>(n) * count;
  }
  return m;
}

bool supports_layer_ranges(DeviceKind kind) { return kind == DeviceKind::cpu; }

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
