// Fuzz target: tokenizer encode/decode per family (engine/tokenizer).
//
// The tokenizers are built once: a synthetic SentencePiece vocabulary
// (engine/synth), a synthetic byte-level BPE vocabulary under several
// pre-tokenizer families (each has its own split rules), and, when the
// reference folder is present, every ggml-vocab-*.gguf in its vocab/ folder
// (LLMD_SHARED_DIR overrides where that folder is; without it the synthetic
// ones still run). Input: byte 0 picks the tokenizer, byte 1 the options,
// the rest is text to encode, or (option bit 4) token ids to decode.
//
// Invariants: ids in range; decode() is valid UTF-8; streaming decode equals
// decode() (stream_decoder.hpp's contract).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/gguf/gguf_writer.hpp"
#include "engine/synth/synth_vocab.hpp"
#include "engine/tokenizer/byte_unicode.hpp"
#include "engine/tokenizer/stream_decoder.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/utf8.hpp"
#include "fuzz/fuzz_target.hpp"

namespace {

using namespace llmd;

struct Loaded {
  std::unique_ptr<gguf::GgufFile> file;  // the tokenizer reads its metadata
  std::unique_ptr<engine::Tokenizer> tok;
};

std::unique_ptr<gguf::GgufFile> from_writer(const gguf::GgufWriter& w) {
  auto bytes = w.to_bytes();
  if (!bytes) return nullptr;
  auto f = gguf::GgufFile::from_bytes(std::move(*bytes), "synthetic.gguf");
  return f ? std::move(*f) : nullptr;
}

void add(std::vector<Loaded>& out, std::unique_ptr<gguf::GgufFile> file, const std::string& what) {
  if (!file) {
    std::fprintf(stderr, "tokenizer fuzz: cannot build %s\n", what.c_str());
    std::abort();
  }
  auto tok = engine::Tokenizer::from_gguf(*file);
  if (!tok) {
    std::fprintf(stderr, "tokenizer fuzz: %s: %s\n", what.c_str(), tok.error().message.c_str());
    std::abort();
  }
  out.push_back({std::move(file), std::move(*tok)});
}

std::unique_ptr<gguf::GgufFile> synth_spm() {
  auto vocab = engine::synth::make_synth_vocab(2000);
  if (!vocab) return nullptr;
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  engine::synth::write_synth_vocab(*vocab, &w);
  return from_writer(w);
}

// Byte-level BPE: the 256 byte characters, merges of frequent pairs, two
// control tokens (EOS, BOS) and a user-defined token.
std::unique_ptr<gguf::GgufFile> synth_bpe(const std::string& pre) {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(engine::byte_unicode::encoded(static_cast<std::uint8_t>(b)));
  std::vector<std::string> merges;
  const std::string sp(engine::byte_unicode::encoded(' '));
  const char* pairs[][2] = {{"t", "h"}, {"th", "e"}, {sp.c_str(), "the"}, {"i", "n"}, {"in", "g"}, {"e", "r"},
                            {"a", "n"}, {sp.c_str(), "a"}, {"o", "n"}, {"1", "2"}, {"12", "3"}, {sp.c_str(), "t"}};
  for (auto& p : pairs) {
    merges.push_back(std::string(p[0]) + " " + p[1]);
    tokens.push_back(std::string(p[0]) + p[1]);
  }
  types.assign(tokens.size(), 1);
  tokens.push_back("<|endoftext|>");
  types.push_back(3);
  tokens.push_back("<|begin_of_text|>");
  types.push_back(3);
  tokens.push_back("<tool>");
  types.push_back(4);
  scores.assign(tokens.size(), 0.0f);
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set("tokenizer.ggml.tokens", gguf::GgufValue::string_array(tokens));
  w.set("tokenizer.ggml.scores", gguf::GgufValue::f32_array(scores));
  w.set("tokenizer.ggml.token_type", gguf::GgufValue::i32_array(types));
  w.set("tokenizer.ggml.merges", gguf::GgufValue::string_array(merges));
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(tokens.size() - 3));
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(tokens.size() - 2));
  return from_writer(w);
}

std::vector<Loaded> load_all() {
  std::vector<Loaded> out;
  add(out, synth_spm(), "synthetic SentencePiece vocabulary");
  for (const char* pre : {"gpt-2", "llama-bpe", "qwen2", "deepseek-coder", "falcon", "starcoder", "gpt-4o", "tekken"}) {
    add(out, synth_bpe(pre), std::string("synthetic BPE vocabulary (") + pre + ")");
  }
  std::filesystem::path shared = LLMD_FUZZ_SHARED_DIR;
  if (const char* env = std::getenv("LLMD_SHARED_DIR"); env && *env) shared = env;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(shared / "vocab", ec)) {
    auto name = e.path().filename().string();
    if (name.rfind("ggml-vocab-", 0) == 0 && e.path().extension() == ".gguf") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    auto f = gguf::GgufFile::open(p.string());
    if (!f) continue;
    auto tok = engine::Tokenizer::from_gguf(**f);
    if (!tok) continue;  // a family this build does not support (no PCRE2): the others still run
    out.push_back({std::move(*f), std::move(*tok)});
  }
  if (files.empty()) std::fprintf(stderr, "tokenizer fuzz: no reference vocabularies in %s; synthetic ones only\n",
                                  (shared / "vocab").c_str());
  return out;
}

const std::vector<Loaded>& tokenizers() {
  static const std::vector<Loaded> toks = load_all();
  return toks;
}

}  // namespace

// The reference vocabularies take a while to load (seconds under the
// sanitizers): before the first input, so that it does not count as a hang.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<Loaded>& toks = tokenizers();
  if (size < 2) return 0;
  const engine::Tokenizer& tok = *toks[data[0] % toks.size()].tok;
  const std::uint8_t flags = data[1];
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);

  std::vector<std::int32_t> ids;
  if (flags & 16) {
    for (std::size_t i = 0; i + 2 <= rest.size(); i += 2) {
      auto v = static_cast<std::uint16_t>(static_cast<std::uint8_t>(rest[i]) | static_cast<std::uint8_t>(rest[i + 1]) << 8);
      ids.push_back(static_cast<std::int32_t>(v % static_cast<unsigned>(tok.n_vocab())));
    }
  } else {
    ids = tok.encode(rest, flags & 1, flags & 2);
    for (auto id : ids) fuzz_check(id >= 0 && id < tok.n_vocab());
    if ((flags & 32) && !rest.empty()) {
      // Literal ranges: the first and second half of the text.
      std::vector<std::pair<std::size_t, std::size_t>> literal{{0, rest.size() / 2}};
      auto lit = tok.encode(rest, flags & 1, true, literal);
      for (auto id : lit) fuzz_check(id >= 0 && id < tok.n_vocab());
    }
  }
  engine::DecodeOptions opt;
  opt.render_special = flags & 4;
  opt.strip_leading_space = flags & 8;
  std::string text = tok.decode(ids, opt);
  fuzz_check(engine::utf8::is_valid(text));
  engine::StreamDecoder stream(tok, opt);
  std::string streamed;
  for (auto id : ids) streamed += stream.push(id);
  streamed += stream.finish();
  fuzz_check(streamed == text);
  return 0;
}
