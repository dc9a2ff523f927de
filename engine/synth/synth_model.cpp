#include "engine/synth/synth_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <thread>

#include "engine/quant/dequantize.hpp"
#include "engine/quant/quantize.hpp"
#include "engine/synth/synth_vocab.hpp"

namespace llmd::engine::synth {

using gguf::GgmlType;

namespace {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// How one tensor's values are drawn: center + uniform(-spread, spread).
struct Dist {
  float center = 0.0f;
  float spread = 1.0f;
};

struct TypePlan {
  GgmlType base = GgmlType::F16;
  GgmlType strong = GgmlType::F16;  // attn_v, ffn_down, output in the _m mixes
};

Result<TypePlan> parse_type(const std::string& spec) {
  if (spec == "q4_k_m" || spec == "Q4_K_M") return TypePlan{GgmlType::Q4_K, GgmlType::Q6_K};
  if (spec == "q5_k_m" || spec == "Q5_K_M") return TypePlan{GgmlType::Q5_K, GgmlType::Q6_K};
  auto t = gguf::ggml_type_from_name(spec);
  if (!t || !quant::is_supported_weight_type(*t))
    return Error(ErrorCode::synth_bad_type, "unknown or unsupported weight type '" + spec +
                                       "' (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m)");
  return TypePlan{*t, *t};
}

// Fills a tensor of `rows` x `cols` of `type` with values from `dist`, each
// row from its own random stream so threads do not change the result.
void fill_tensor(uint8_t* dst, GgmlType type, int64_t rows, int64_t cols, uint64_t seed, Dist dist, int threads) {
  const uint64_t row_bytes = *gguf::ggml_row_bytes(type, static_cast<uint64_t>(cols));
  auto work = [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      uint64_t s = seed ^ (static_cast<uint64_t>(r) * 0xd1b54a32d192ed03ull);
      for (int64_t i = 0; i < cols; ++i) {
        const double u = static_cast<double>(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
        buf[static_cast<size_t>(i)] = dist.center + dist.spread * static_cast<float>(2.0 * u - 1.0);
      }
      quant::quantize_row(type, buf.data(), dst + static_cast<uint64_t>(r) * row_bytes, cols);
    }
  };
  int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (rows * cols < (1 << 20)) n = 1;
  n = static_cast<int>(std::min<int64_t>(n, rows));
  if (n <= 1) {
    work(0, rows);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < n; ++t) pool.emplace_back(work, rows * t / n, rows * (t + 1) / n);
  for (auto& th : pool) th.join();
}

}  // namespace

std::vector<float> llama3_rope_factors(const SynthShape& shape) {
  std::vector<float> out;
  if (!shape.llama3_rope_freqs) return out;
  const int head_dim = shape.head_dim > 0 ? shape.head_dim : shape.n_embd / shape.n_head;
  const double factor = 8.0, low = 1.0, high = 4.0, orig = shape.rope_orig_ctx;
  const double low_wavelen = orig / low, high_wavelen = orig / high;
  for (int i = 0; i < head_dim / 2; ++i) {
    const double freq = std::pow(static_cast<double>(shape.rope_base), -2.0 * i / head_dim);
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double f = 1.0;
    if (wavelen > low_wavelen) {
      f = factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (orig / wavelen - low) / (high - low);
      f = 1.0 / ((1.0 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

Result<gguf::GgufWriter> make_synth_writer(const SynthShape& s, const SynthOptions& opts) {
  auto plan = parse_type(opts.type);
  if (!plan) return plan.take_error();
  if (s.arch != "llama" && s.arch != "qwen2" && s.arch != "qwen3") return Error(ErrorCode::synth_bad_shape, "unknown architecture " + s.arch);
  if (s.n_embd <= 0 || s.n_layer <= 0 || s.n_head <= 0 || s.n_head_kv <= 0 || s.n_ff <= 0 ||
      s.n_head % s.n_head_kv != 0)
    return Error(ErrorCode::synth_bad_shape, "shape " + s.name + " has inconsistent sizes");
  const int head_dim = s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head;
  if (head_dim <= 0 || head_dim % 2 != 0) return Error(ErrorCode::synth_bad_shape, "shape " + s.name + ": bad head size");
  auto vocab = make_synth_vocab(s.n_vocab);
  if (!vocab) return vocab.take_error();
  if (opts.control_tokens.size() > vocab->tokens.size() / 2)
    return Error(ErrorCode::synth_bad_shape, "too many control tokens for the vocabulary");
  for (size_t i = 0; i < opts.control_tokens.size(); ++i) {
    const size_t id = vocab->tokens.size() - opts.control_tokens.size() + i;
    vocab->tokens[id] = opts.control_tokens[i];
    vocab->scores[id] = 0.0f;
    vocab->types[id] = 3;
  }

  gguf::GgufWriter w;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", "synthetic " + s.name + " (" + opts.type + ", seed " + std::to_string(opts.seed) + ")");
  w.set_u32(a + "vocab_size", static_cast<uint32_t>(s.n_vocab));
  w.set_u32(a + "context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + "block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  if (s.head_dim > 0) {
    w.set_u32(a + "attention.key_length", static_cast<uint32_t>(head_dim));
    w.set_u32(a + "attention.value_length", static_cast<uint32_t>(head_dim));
  }
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(head_dim));
  w.set_f32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set_f32(a + "rope.freq_base", s.rope_base);
  if (s.linear_rope_scale > 1.0f) {
    w.set_string(a + "rope.scaling.type", "linear");
    w.set_f32(a + "rope.scaling.factor", s.linear_rope_scale);
  }
  const int pooling = opts.pooling >= 0 ? opts.pooling : s.pooling;
  if (pooling > 3) return Error(ErrorCode::synth_bad_shape, "pooling type " + std::to_string(pooling) + " (0..3)");
  if (pooling > 0) w.set_u32(a + "pooling_type", static_cast<uint32_t>(pooling));
  write_synth_vocab(*vocab, &w);

  const int threads = opts.threads;
  const uint64_t seed = opts.seed;
  const TypePlan tp = *plan;
  // Adds one tensor; `rows` == 0 makes a vector of `cols`.
  auto add = [&](const std::string& name, int64_t rows, int64_t cols, GgmlType type, Dist dist) -> Status {
    const int be = quant::block_elems(type);
    if (cols % be != 0) type = cols % 32 == 0 ? GgmlType::Q8_0 : GgmlType::F16;
    std::vector<uint64_t> dims = {static_cast<uint64_t>(cols)};
    if (rows > 0) dims.push_back(static_cast<uint64_t>(rows));
    const int64_t r = rows > 0 ? rows : 1;
    const uint64_t tseed = hash_name(name, seed);
    return w.add_tensor(name, type, dims, [=](uint8_t* dst, uint64_t) {
      fill_tensor(dst, type, r, cols, tseed, dist, threads);
    });
  };
  auto mat = [&](int64_t cols) { return Dist{0.0f, std::sqrt(3.0f / static_cast<float>(cols))}; };
  const Dist norm{1.0f, 0.2f};
  const Dist bias{0.0f, 0.5f};
  const int64_t E = s.n_embd, V = s.n_vocab, Q = static_cast<int64_t>(s.n_head) * head_dim,
                KV = static_cast<int64_t>(s.n_head_kv) * head_dim, F = s.n_ff;

#define LLMD_ADD(...)                                  \
  do {                                                 \
    if (Status st_ = add(__VA_ARGS__); !st_) return st_.take_error(); \
  } while (0)

  LLMD_ADD("token_embd.weight", V, E, tp.base, mat(E));
  LLMD_ADD("output_norm.weight", 0, E, GgmlType::F32, norm);
  if (!s.tied_output) LLMD_ADD("output.weight", V, E, tp.strong, mat(E));
  if (s.llama3_rope_freqs) {
    std::vector<float> f = llama3_rope_factors(s);
    std::vector<uint8_t> bytes(f.size() * sizeof(float));
    std::memcpy(bytes.data(), f.data(), bytes.size());
    if (Status st = w.add_tensor("rope_freqs.weight", GgmlType::F32, {f.size()}, std::move(bytes)); !st)
      return st.take_error();
  }
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    LLMD_ADD(b + "attn_norm.weight", 0, E, GgmlType::F32, norm);
    LLMD_ADD(b + "attn_q.weight", Q, E, tp.base, mat(E));
    LLMD_ADD(b + "attn_k.weight", KV, E, tp.base, mat(E));
    LLMD_ADD(b + "attn_v.weight", KV, E, tp.strong, mat(E));
    if (s.qkv_bias) {
      LLMD_ADD(b + "attn_q.bias", 0, Q, GgmlType::F32, bias);
      LLMD_ADD(b + "attn_k.bias", 0, KV, GgmlType::F32, bias);
      LLMD_ADD(b + "attn_v.bias", 0, KV, GgmlType::F32, bias);
    }
    if (s.qk_norm) {
      LLMD_ADD(b + "attn_q_norm.weight", 0, head_dim, GgmlType::F32, norm);
      LLMD_ADD(b + "attn_k_norm.weight", 0, head_dim, GgmlType::F32, norm);
    }
    LLMD_ADD(b + "attn_output.weight", E, Q, tp.base, mat(Q));
    LLMD_ADD(b + "ffn_norm.weight", 0, E, GgmlType::F32, norm);
    LLMD_ADD(b + "ffn_gate.weight", F, E, tp.base, mat(E));
    LLMD_ADD(b + "ffn_up.weight", F, E, tp.base, mat(E));
    LLMD_ADD(b + "ffn_down.weight", E, F, tp.strong, mat(F));
  }
#undef LLMD_ADD
  return w;
}

Status write_synth_model(const SynthShape& shape, const SynthOptions& opts, const std::string& path) {
  auto w = make_synth_writer(shape, opts);
  if (!w) return w.take_error();
  return w->write_file(path);
}

}  // namespace llmd::engine::synth
