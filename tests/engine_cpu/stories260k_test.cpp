// stories260K (a real pretrained Llama model, F32): greedy generation must
// reproduce the reference ids exactly, and the prompt logits must match the
// reference logits, with every kernel variant this CPU can run.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/cpu/cpu_features.hpp"
#include "engine/model/model.hpp"
#include "tests/engine_cpu/greedy_runner.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/stories_reference.hpp"

namespace llmd::engine {
namespace {

using RefCase = test::StoriesReference;

std::vector<RefCase> read_reference() { return test::read_stories_reference(); }

class Stories260K : public ::testing::TestWithParam<std::string> {};

TEST_P(Stories260K, GreedyIdsMatchReference) {
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.reference.txt");
  auto model = Model::load(test::shared_file("models/stories260K.gguf").string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  for (KvDtype dtype : {KvDtype::f32, KvDtype::f16}) {
    auto be = make_cpu_backend(**model, {.threads = 2, .isa = GetParam()});
    ASSERT_TRUE(be.ok()) << be.error().message;
    ASSERT_TRUE((*be)->init_kv({.n_blocks = 16, .block_size = 16, .dtype = dtype}).ok());
    const auto cases = read_reference();
    ASSERT_EQ(cases.size(), 3u);
    for (const RefCase& c : cases) {
      ASSERT_EQ(c.gen_ids.size(), 64u);
      const auto gen = test::greedy_generate(**be, c.prompt_ids, 64);
      EXPECT_EQ(gen, c.gen_ids) << "prompt '" << c.prompt << "', kv " << (dtype == KvDtype::f32 ? "f32" : "f16");
    }
  }
}

TEST_P(Stories260K, PromptLogitsMatchReference) {
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.logits.once_upon_a_time.txt");
  auto model = Model::load(test::shared_file("models/stories260K.gguf").string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto be = make_cpu_backend(**model, {.threads = 2, .isa = GetParam()});
  ASSERT_TRUE(be.ok()) << be.error().message;
  ASSERT_TRUE((*be)->init_kv({.n_blocks = 4, .block_size = 16, .dtype = KvDtype::f16}).ok());

  std::ifstream in(test::shared_file("models/stories260K.logits.once_upon_a_time.txt"));
  std::vector<int32_t> ids;
  std::vector<std::vector<float>> ref;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int pos, id;
    if (!(ls >> pos >> id)) continue;
    ids.push_back(id);
    ref.emplace_back();
    float v;
    while (ls >> v) ref.back().push_back(v);
  }
  ASSERT_EQ(ids, (std::vector<int32_t>{1, 403, 407, 261, 378}));
  std::vector<std::vector<float>> got;
  test::greedy_generate(**be, ids, 1, &got);
  ASSERT_EQ(got.size(), ref.size());
  double worst = 0.0;
  for (size_t p = 0; p < ref.size(); ++p) {
    ASSERT_EQ(got[p].size(), ref[p].size());
    for (size_t i = 0; i < ref[p].size(); ++i) worst = std::max(worst, std::fabs(double(got[p][i]) - ref[p][i]));
  }
  EXPECT_LE(worst, 2e-2) << "max |logit - reference|";
}

std::vector<std::string> isas() {
  std::vector<std::string> out;
  for (auto isa : cpu::available_isas()) out.push_back(cpu::isa_name(isa));
  return out;
}

INSTANTIATE_TEST_SUITE_P(Isa, Stories260K, ::testing::ValuesIn(isas()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace llmd::engine
