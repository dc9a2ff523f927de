// Shared pieces of the CUDA backend tests: batches whose arrays stay alive,
// block tables, backends created with options, and synthetic GGUF models
// written once per (shape, type) into a scratch folder.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.hpp"
#include "engine/model/model.hpp"
#include "engine/synth/synth_model.hpp"

namespace llmd::engine::cuda::test_fixtures {

inline int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// A BatchSeq only points at its arrays: keep a copy of each alive for the rest
// of the test process, so that temporaries passed here never dangle.
inline std::span<const int32_t> kept(std::vector<int32_t> v) {
  static std::deque<std::vector<int32_t>> store;
  store.push_back(std::move(v));
  return store.back();
}

inline BatchSeq seq_of(std::vector<int32_t> tokens, int32_t pos, std::vector<int32_t> table, LogitsMode m) {
  BatchSeq s;
  s.tokens = kept(std::move(tokens));
  s.pos = pos;
  s.block_table = kept(std::move(table));
  s.logits = m;
  return s;
}

inline std::vector<int32_t> iota_table(int n, int first = 0) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Greedy generation of one sequence (blocks 0..): `pick` runs one step of
// the batch and gives its token (-1 on failure); by default, argmax over the
// logits the backend returns.
inline int32_t pick_by_host_argmax(Backend& be, const ForwardBatch& b) {
  ForwardOutput out;
  Status st = be.forward(b, &out);
  EXPECT_TRUE(st.ok()) << st.error().message;
  return st.ok() && out.n_rows == 1 ? argmax(out.row(0)) : -1;
}

inline std::vector<int32_t> greedy_ids(Backend& be, const std::vector<int32_t>& prompt, int n,
                                       int32_t (*pick)(Backend&, const ForwardBatch&) = pick_by_host_argmax) {
  const auto table = iota_table(static_cast<int>((prompt.size() + n) / 16 + 2));
  ForwardBatch b;
  b.seqs.push_back(seq_of(prompt, 0, table, LogitsMode::last));
  std::vector<int32_t> gen;
  std::vector<int32_t> tok(1);
  int32_t pos = static_cast<int32_t>(prompt.size());
  for (int i = 0; i < n; ++i) {
    const int32_t next = pick(be, b);
    if (next < 0) return gen;
    gen.push_back(next);
    tok[0] = next;
    b.seqs[0].tokens = tok;
    b.seqs[0].pos = pos++;
  }
  return gen;
}

inline std::unique_ptr<CudaBackend> cuda_backend(const Model& m, CudaBackendOptions o = {}) {
  auto b = CudaBackend::create(m, o);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? std::move(*b) : nullptr;
}

// A synthetic model written once per (shape, type) into a scratch folder.
class SynthModels {
 public:
  SynthModels() {
    dir_ = std::filesystem::temp_directory_path() / ("llmd-cuda-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~SynthModels() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<Model> get(const std::string& shape_name, const std::string& type) {
    const auto* shape = synth::find_synth_shape(shape_name);
    EXPECT_NE(shape, nullptr) << shape_name;
    if (!shape) return nullptr;
    const auto path = (dir_ / (shape_name + "-" + type + ".gguf")).string();
    if (!std::filesystem::exists(path)) {
      synth::SynthOptions o;
      o.type = type;
      o.seed = 7;
      Status st = synth::write_synth_model(*shape, o, path);
      EXPECT_TRUE(st.ok()) << st.error().message;
      if (!st.ok()) return nullptr;
    }
    auto m = Model::load(path);
    EXPECT_TRUE(m.ok()) << m.error().message;
    return m.ok() ? std::move(*m) : nullptr;
  }

 private:
  std::filesystem::path dir_;
};

inline SynthModels& synth_models() {
  static SynthModels s;
  return s;
}

}  // namespace llmd::engine::cuda::test_fixtures
