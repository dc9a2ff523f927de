// Synthetic models: deterministic bytes, the shapes of the named real models,
// a valid vocabulary of the right size, and every weight type.
#include <gtest/gtest.h>

#include <set>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/model/model.hpp"
#include "engine/synth/synth_model.hpp"
#include "engine/synth/synth_vocab.hpp"

namespace llmd::engine::synth {
namespace {

std::vector<uint8_t> bytes_of(const std::string& shape, const std::string& type, uint64_t seed, int threads) {
  auto w = make_synth_writer(*find_synth_shape(shape), {.type = type, .seed = seed, .threads = threads});
  EXPECT_TRUE(w.ok());
  auto b = w->to_bytes();
  EXPECT_TRUE(b.ok());
  return *b;
}

TEST(Synth, SameSeedSameBytesWhateverTheThreads) {
  const auto a = bytes_of("test-llama", "q4_k_m", 7, 1);
  EXPECT_EQ(a, bytes_of("test-llama", "q4_k_m", 7, 3));
  EXPECT_NE(a, bytes_of("test-llama", "q4_k_m", 8, 1));
}

TEST(Synth, EveryTypeLoadsWithTheRequestedTensorTypes) {
  const std::pair<const char*, gguf::GgmlType> types[] = {
      {"f32", gguf::GgmlType::F32},   {"f16", gguf::GgmlType::F16},   {"bf16", gguf::GgmlType::BF16},
      {"q8_0", gguf::GgmlType::Q8_0}, {"q4_0", gguf::GgmlType::Q4_0}, {"q4_k", gguf::GgmlType::Q4_K},
      {"q5_k", gguf::GgmlType::Q5_K}, {"q6_k", gguf::GgmlType::Q6_K}};
  for (const auto& [name, type] : types) {
    auto f = gguf::GgufFile::from_bytes(bytes_of("test-qwen2", name, 1, 1));
    ASSERT_TRUE(f.ok()) << name;
    auto m = Model::from_gguf(std::move(*f));
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ((*m)->layer(1).w_down.type, type) << name;
    EXPECT_EQ((*m)->token_embd().type, type) << name;
    EXPECT_EQ((*m)->layer(0).bq.type, gguf::GgmlType::F32);
  }
  auto f = gguf::GgufFile::from_bytes(bytes_of("test-llama", "q4_k_m", 1, 1));
  auto m = Model::from_gguf(std::move(*f));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->layer(0).wq.type, gguf::GgmlType::Q4_K);
  EXPECT_EQ((*m)->layer(0).wv.type, gguf::GgmlType::Q6_K);
  EXPECT_EQ((*m)->layer(0).w_down.type, gguf::GgmlType::Q6_K);
  EXPECT_EQ((*m)->output().type, gguf::GgmlType::Q6_K);
}

TEST(Synth, UnknownTypeIsAnError) {
  auto w = make_synth_writer(*find_synth_shape("test-llama"), {.type = "q3_k"});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("q3_k"), std::string::npos);
}

TEST(Synth, RealShapesHaveTheirSizes) {
  const SynthShape* t = find_synth_shape("tinyllama-1.1b");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->n_embd, 2048);
  EXPECT_EQ(t->n_layer, 22);
  EXPECT_EQ(t->n_head_kv, 4);
  EXPECT_EQ(t->n_ff, 5632);
  const SynthShape* l = find_synth_shape("llama-3-8b");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->n_vocab, 128256);
  EXPECT_EQ(l->n_ff, 14336);
  EXPECT_EQ(find_synth_shape("no-such-model"), nullptr);
}

TEST(SynthVocab, UniqueTokensOfTheRequestedSize) {
  for (int n : {300, 512, 32000, 128256}) {
    auto v = make_synth_vocab(n);
    ASSERT_TRUE(v.ok());
    ASSERT_EQ(static_cast<int>(v->tokens.size()), n);
    ASSERT_EQ(v->scores.size(), v->tokens.size());
    ASSERT_EQ(v->types.size(), v->tokens.size());
    std::set<std::string> uniq(v->tokens.begin(), v->tokens.end());
    EXPECT_EQ(static_cast<int>(uniq.size()), n);
    EXPECT_EQ(v->tokens[1], "<s>");
    EXPECT_EQ(v->tokens[2], "</s>");
    EXPECT_EQ(v->tokens[3 + 0x41], "<0x41>");
    EXPECT_EQ(v->types[3 + 0x41], 6);
  }
  EXPECT_FALSE(make_synth_vocab(100).ok());
}

}  // namespace
}  // namespace llmd::engine::synth
