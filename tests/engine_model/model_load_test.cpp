// Model loading: hyperparameters of every synthetic test shape, and clear
// errors (never a crash) for models that are missing tensors, have wrong
// shapes, unsupported tensor types or an unsupported architecture.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "engine/gguf/gguf_writer.hpp"
#include "engine/model/model.hpp"
#include "engine/quant/quantize.hpp"
#include "engine/synth/synth_model.hpp"
#include "engine/synth/synth_shapes.hpp"

namespace llmd::engine {
namespace {

using gguf::GgmlType;

Result<std::unique_ptr<Model>> load_bytes(Result<std::vector<uint8_t>> bytes) {
  if (!bytes) return bytes.take_error();
  auto f = gguf::GgufFile::from_bytes(std::move(*bytes), "test.gguf");
  if (!f) return f.take_error();
  return Model::from_gguf(std::move(*f));
}

Result<std::unique_ptr<Model>> load_synth(const std::string& shape, const std::string& type = "f32") {
  auto w = synth::make_synth_writer(*synth::find_synth_shape(shape), {.type = type, .seed = 3, .threads = 1});
  if (!w) return w.take_error();
  return load_bytes(w->to_bytes());
}

TEST(ModelLoad, ReadsHyperparametersOfEveryTestShape) {
  for (const auto& s : synth::synth_shapes()) {
    if (s.name.rfind("test-", 0) != 0) continue;
    SCOPED_TRACE(s.name);
    auto m = load_synth(s.name);
    ASSERT_TRUE(m.ok()) << m.error().message;
    const ModelConfig& c = (*m)->config();
    EXPECT_EQ(c.arch_name, s.arch);
    EXPECT_EQ(c.n_vocab, s.n_vocab);
    EXPECT_EQ(c.n_embd, s.n_embd);
    EXPECT_EQ(c.n_layer, s.n_layer);
    EXPECT_EQ(c.n_head, s.n_head);
    EXPECT_EQ(c.n_head_kv, s.n_head_kv);
    EXPECT_EQ(c.head_dim, s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head);
    EXPECT_EQ(c.n_ff, s.n_ff);
    EXPECT_EQ(c.n_ctx_train, s.n_ctx);
    EXPECT_FLOAT_EQ(c.rms_eps, s.rms_eps);
    EXPECT_FLOAT_EQ(c.rope_freq_base, s.rope_base);
    EXPECT_EQ(c.tied_output, s.tied_output);
    EXPECT_EQ(c.qkv_bias, s.qkv_bias);
    EXPECT_EQ(c.has_rope_freqs, s.llama3_rope_freqs);
    EXPECT_EQ(c.rope_style, s.arch == "llama" ? RopeStyle::adjacent : RopeStyle::neox);
    EXPECT_EQ(c.qk_norm, s.qk_norm);
    EXPECT_EQ(static_cast<int>(c.pooling), s.pooling);
    if (c.qk_norm) {
      EXPECT_EQ((*m)->layer(1).q_norm.cols, c.head_dim);
      EXPECT_EQ((*m)->layer(1).k_norm.cols, c.head_dim);
    }
    EXPECT_EQ((*m)->output().data, c.tied_output ? (*m)->token_embd().data : (*m)->output().data);
    // Inverse frequencies: base^(-2i/d) / rope_freqs[i] / linear factor.
    const auto factors = synth::llama3_rope_factors(s);
    const auto& inv = (*m)->rope_inv_freq();
    ASSERT_EQ(static_cast<int>(inv.size()), c.n_rot / 2);
    for (size_t i = 0; i < inv.size(); ++i) {
      double want = std::pow(static_cast<double>(s.rope_base), -2.0 * static_cast<double>(i) / c.n_rot);
      if (!factors.empty()) want /= factors[i];
      if (s.linear_rope_scale > 1.0f) want /= s.linear_rope_scale;
      EXPECT_NEAR(inv[i], want, 1e-6 * want) << i;
    }
  }
}

TEST(ModelLoad, Llama3FactorsSpanTheirRange) {
  const auto f = synth::llama3_rope_factors(*synth::find_synth_shape("llama-3.1-8b"));
  ASSERT_EQ(f.size(), 64u);
  EXPECT_FLOAT_EQ(f.front(), 1.0f);  // high frequencies are kept
  EXPECT_FLOAT_EQ(f.back(), 8.0f);   // low frequencies are scaled by the factor
  int between = 0;
  for (float v : f) between += v > 1.0f && v < 8.0f;
  EXPECT_GT(between, 0);
}

// A tiny llama model written tensor by tensor; `edit` may change a tensor's
// name, type or dims, or drop it (return false).
using Edit = std::function<bool(std::string& name, GgmlType& type, std::vector<uint64_t>& dims)>;

Result<std::unique_ptr<Model>> tiny_model(const Edit& edit, const std::string& arch = "llama",
                                          const std::function<void(gguf::GgufWriter&)>& meta = {}) {
  gguf::GgufWriter w;
  w.set_string("general.architecture", arch);
  const std::string p = arch + ".";
  w.set_u32(p + "embedding_length", 64);
  w.set_u32(p + "block_count", 2);
  w.set_u32(p + "feed_forward_length", 128);
  w.set_u32(p + "attention.head_count", 4);
  w.set_u32(p + "attention.head_count_kv", 2);
  w.set_u32(p + "context_length", 128);
  if (meta) meta(w);
  auto add = [&](std::string name, std::vector<uint64_t> dims) -> Status {
    GgmlType type = GgmlType::F32;
    if (edit && !edit(name, type, dims)) return ok_status();
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    auto rb = gguf::ggml_row_bytes(type, dims[0]);
    if (!rb) return Error(ErrorCode::test, "bad row");
    return w.add_tensor(name, type, dims, std::vector<uint8_t>(*rb * (n / dims[0]), 0));
  };
#define ADD(...)                                        \
  do {                                                  \
    if (Status st_ = add(__VA_ARGS__); !st_) return st_.take_error(); \
  } while (0)
  ADD("token_embd.weight", {64, 300});
  ADD("output_norm.weight", {64});
  ADD("output.weight", {64, 300});
  for (int i = 0; i < 2; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    ADD(b + "attn_norm.weight", {64});
    ADD(b + "attn_q.weight", {64, 64});
    ADD(b + "attn_k.weight", {64, 32});
    ADD(b + "attn_v.weight", {64, 32});
    ADD(b + "attn_output.weight", {64, 64});
    ADD(b + "ffn_norm.weight", {64});
    ADD(b + "ffn_gate.weight", {64, 128});
    ADD(b + "ffn_up.weight", {64, 128});
    ADD(b + "ffn_down.weight", {128, 64});
  }
#undef ADD
  return load_bytes(w.to_bytes());
}

void expect_error(const Result<std::unique_ptr<Model>>& m, std::string_view code, const std::string& mention) {
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code_name(), code) << m.error().message;
  EXPECT_NE(m.error().message.find(mention), std::string::npos) << m.error().message;
}

TEST(ModelLoad, TinyModelLoads) {
  auto m = tiny_model({});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->config().n_vocab, 300);
  EXPECT_EQ((*m)->config().head_dim, 16);
  EXPECT_FALSE((*m)->config().tied_output);
}

TEST(ModelLoad, UnsupportedArchitectureIsNamed) {
  expect_error(tiny_model({}, "gpt2"), "model_unsupported_arch", "'gpt2'");
  expect_error(tiny_model({}, "mamba"), "model_unsupported_arch", "'mamba'");
}

TEST(ModelLoad, MissingTensorIsNamed) {
  expect_error(tiny_model([](std::string& n, GgmlType&, std::vector<uint64_t>&) { return n != "blk.1.ffn_up.weight"; }),
               "model_missing_tensor", "blk.1.ffn_up.weight");
  expect_error(tiny_model([](std::string& n, GgmlType&, std::vector<uint64_t>&) { return n != "token_embd.weight"; }),
               "model_missing_tensor", "token_embd.weight");
  expect_error(tiny_model([](std::string& n, GgmlType&, std::vector<uint64_t>&) { return n != "output_norm.weight"; }),
               "model_missing_tensor", "output_norm.weight");
}

TEST(ModelLoad, WrongShapeIsNamed) {
  expect_error(tiny_model([](std::string& n, GgmlType&, std::vector<uint64_t>& d) {
                 if (n == "blk.0.attn_k.weight") d = {64, 64};  // 4 KV heads' worth instead of 2
                 return true;
               }),
               "model_bad_tensor_shape", "blk.0.attn_k.weight");
  expect_error(tiny_model([](std::string& n, GgmlType&, std::vector<uint64_t>& d) {
                 if (n == "blk.1.ffn_down.weight") d = {64, 128};  // transposed
                 return true;
               }),
               "model_bad_tensor_shape", "blk.1.ffn_down.weight");
  expect_error(tiny_model([](std::string& n, GgmlType&, std::vector<uint64_t>& d) {
                 if (n == "output.weight") d = {64, 299};
                 return true;
               }),
               "model_bad_tensor_shape", "output.weight");
  expect_error(tiny_model([](std::string& n, GgmlType&, std::vector<uint64_t>& d) {
                 if (n == "blk.0.attn_norm.weight") d = {64, 1};
                 return true;
               }),
               "model_bad_tensor_shape", "blk.0.attn_norm.weight");
}

TEST(ModelLoad, UnsupportedTypeIsNamed) {
  expect_error(tiny_model([](std::string& n, GgmlType& t, std::vector<uint64_t>& d) {
                 if (n == "blk.0.ffn_gate.weight") {
                   t = GgmlType::Q5_0;
                   d = {64, 128};
                 }
                 return true;
               }),
               "model_unsupported_type", "q5_0");
  expect_error(tiny_model([](std::string& n, GgmlType& t, std::vector<uint64_t>& d) {
                 if (n == "blk.1.attn_q.weight") {
                   t = GgmlType::I32;
                   d = {64, 64};
                 }
                 return true;
               }),
               "model_unsupported_type", "blk.1.attn_q.weight");
}

TEST(ModelLoad, BadMetadataIsReported) {
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.remove("llama.block_count"); }),
               "model_bad_metadata", "block_count");
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.set_u32("llama.attention.head_count_kv", 3); }),
               "model_bad_metadata", "head_count_kv");
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.set_string("llama.embedding_length", "big"); }),
               "model_bad_metadata", "embedding_length");
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.set_u32("llama.attention.head_count", 0); }),
               "model_bad_metadata", "head_count");
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.set_string("llama.rope.scaling.type", "yarn"); }),
               "model_unsupported_rope", "yarn");
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.set_string("llama.rope.scaling.type", "llama3"); }),
               "model_bad_metadata", "rope_freqs");
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.set_f32("llama.attention.layer_norm_rms_epsilon", -1.0f); }),
               "model_bad_metadata", "epsilon");
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.remove("general.architecture"); }),
               "model_bad_metadata", "general.architecture");
}

TEST(ModelLoad, PoolingTypeIsReadAndCheckedByName) {
  for (uint32_t p : {0u, 1u, 2u, 3u}) {
    auto m = tiny_model({}, "llama", [p](gguf::GgufWriter& w) { w.set_u32("llama.pooling_type", p); });
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(static_cast<uint32_t>((*m)->config().pooling), p);
    EXPECT_EQ((*m)->config().is_embedding(), p != 0);
  }
  // 4 is llama.cpp's "rank" (a reranker's head): not an embedding llmd computes.
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.set_u32("llama.pooling_type", 4); }),
               "model_bad_metadata", "pooling_type");
  expect_error(tiny_model({}, "llama", [](gguf::GgufWriter& w) { w.set_string("llama.pooling_type", "mean"); }),
               "model_bad_metadata", "pooling_type");
}

TEST(ModelLoad, Qwen3NeedsItsQkNorms) {
  // A llama-shaped file that calls itself qwen3 lacks the per-head norms.
  expect_error(tiny_model({}, "qwen3"), "model_missing_tensor", "attn_q_norm");
}

TEST(ModelLoad, MissingFileIsAnError) {
  auto m = Model::load("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_FALSE(m.error().message.empty());
}

}  // namespace
}  // namespace llmd::engine
