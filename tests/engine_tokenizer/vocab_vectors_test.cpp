// Every vocabulary in the reference folder tokenizes every test string to
// exactly the expected ids (no BOS/EOS, special text not parsed), and decodes
// back to the input where the family round-trips.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::engine {
namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Test strings are separated by "\n__ggml_vocab_test__\n" (and the file ends
// with one such separator).
std::vector<std::string> read_inputs(const std::filesystem::path& p) {
  const std::string text = read_all(p);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t hit = text.find(sep, pos);
    if (hit == std::string::npos) break;
    out.push_back(text.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  return out;
}

std::vector<std::vector<int32_t>> read_outputs(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<int32_t>> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    long v;
    while (ls >> v) ids.push_back(static_cast<int32_t>(v));
    out.push_back(std::move(ids));
  }
  return out;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

struct VocabCase {
  const char* file;
  bool round_trips;  // decode(encode(s)) == s for every test string
};

class VocabVectors : public ::testing::TestWithParam<VocabCase> {};

TEST_P(VocabVectors, TokenizesExactlyAndDecodesBack) {
  const std::string rel = std::string("vocab/") + GetParam().file;
  LLMD_REQUIRE_SHARED_FILE(rel);
  auto file = gguf::GgufFile::open(test::shared_file(rel).string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = Tokenizer::from_gguf(**file);
  if (!tok && tok.error().code == ErrorCode::tokenizer_no_regex) {
    GTEST_SKIP() << "built without PCRE2: " << tok.error().message;
  }
  ASSERT_TRUE(tok.ok()) << tok.error().message;

  const auto inputs = read_inputs(test::shared_file(rel + ".inp"));
  const auto expected = read_outputs(test::shared_file(rel + ".out"));
  ASSERT_FALSE(inputs.empty());
  ASSERT_EQ(inputs.size(), expected.size());
  int failures = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto ids = (*tok)->encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(show(ids), show(expected[i])) << "string #" << i << ": '" << inputs[i] << "'";
    if (show(ids) != show(expected[i])) ++failures;
    if (GetParam().round_trips) {
      EXPECT_EQ((*tok)->decode(expected[i]), inputs[i]) << "string #" << i;
    }
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Shared, VocabVectors,
                         ::testing::Values(VocabCase{"ggml-vocab-llama-spm.gguf", true},
                                           VocabCase{"ggml-vocab-phi-3.gguf", true},
                                           VocabCase{"ggml-vocab-gpt-2.gguf", true},
                                           VocabCase{"ggml-vocab-llama-bpe.gguf", true},
                                           VocabCase{"ggml-vocab-qwen2.gguf", true},
                                           VocabCase{"ggml-vocab-deepseek-coder.gguf", true},
                                           VocabCase{"ggml-vocab-falcon.gguf", true}),
                         [](const auto& info) {
                           std::string n = info.param.file;
                           n = n.substr(11, n.size() - 11 - 5);
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace llmd::engine
