#include "engine/tokenizer/pre_tokenizer.hpp"

#include <algorithm>
#include <utility>

namespace llmd::engine {
namespace {

// --- Expressions shared by several families ---------------------------------

// GPT-2: contractions, optionally space-led letter / digit / symbol runs,
// whitespace not followed by a non-space.
constexpr std::string_view kGpt2 = R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";

// Llama 3 / cl100k style: case-insensitive contractions, a letter run with at
// most one leading non-letter, digit groups of up to three, punctuation runs
// with trailing newlines, newline runs, other whitespace.
constexpr std::string_view kLlama3 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Qwen2: as Llama 3 but every digit on its own.
constexpr std::string_view kQwen2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Qwen3.5: letters carry their combining marks.
constexpr std::string_view kQwen35 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Mistral Tekken: upper-then-lower case runs split camelCase words.
constexpr std::string_view kTekken =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// o200k (GPT-4o, Llama 4): Tekken-style case runs with contractions attached.
constexpr std::string_view kGpt4o =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// BLOOM-style: a word is anything up to whitespace or sentence punctuation.
constexpr std::string_view kBloom = R"re( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)re";

// CJK ideographs, the block below them and Hangul syllables.
constexpr std::string_view kCjkHangul = R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";

// DeepSeek V3: CJK + kana runs, then symbol-led ASCII words, letter runs with
// marks, punctuation runs.
constexpr std::string_view kCjkKana = R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re";
constexpr std::string_view kDeepseek3Words =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// DeepSeek LLM: cased letters of the alphabetic scripts (their list).
constexpr std::string_view kDeepseekLlmLetters =
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re";
constexpr std::string_view kDeepseekLlmPunct =
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re";

// Ling / Bailing: possessive quantifiers as in the model's definition.
constexpr std::string_view kBailing =
    R"re('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)re";

// Seed-Coder: digits one by one, newlines never glued to punctuation.
constexpr std::string_view kSeedCoder =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// --- Families ----------------------------------------------------------------

struct Entry {
  std::vector<std::string_view> names;  // tokenizer.ggml.pre values
  PreTokenizerRules rules;
};

const std::vector<Entry>& table() {
  static const std::vector<Entry> t = [] {
    std::vector<Entry> v;
    auto add = [&](std::vector<std::string_view> names, PreTokenizerRules r) {
      v.push_back(Entry{std::move(names), std::move(r)});
    };
    add({"default"}, {"default", {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2, R"re(\p{N}+)re", R"re([0-9][0-9][0-9])re"}});
    add({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
        {"llama3", {kLlama3}, /*ignore_merges=*/true, /*add_bos=*/true});
    add({"dbrx"}, {"dbrx", {kLlama3}});
    add({"smaug-bpe", "smaug"}, {"smaug", {kLlama3}});
    add({"glm4", "chatglm-bpe"}, {"chatglm", {kLlama3}, false, std::nullopt, /*no_bos=*/true});
    add({"deepseek-llm"},
        {"deepseek-llm",
         {"[\r\n]", kDeepseekLlmLetters, kDeepseekLlmPunct, R"re(\s+$)re", kCjkHangul, R"re(\p{N}+)re"}});
    add({"deepseek-coder"},
        {"deepseek-coder", {"[\r\n]", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", kCjkHangul, R"re(\p{N})re"}});
    add({"deepseek-v3", "hunyuan-dense"}, {"deepseek-v3", {R"re(\p{N}{1,3})re", kCjkKana, kDeepseek3Words}});
    add({"falcon"}, {"falcon", {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2, R"re([0-9][0-9][0-9])re"}});
    add({"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "minerva", "mellum2"},
        {"starcoder", {R"re(\p{N})re", kGpt2}});
    add({"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "trillion", "gigachat", "jina-es", "jina-de", "jina-v2-es",
         "jina-v2-de", "a.x-4.0", "mellum", "exaone4", "granite-docling"},
        {"gpt2", {kGpt2}});
    add({"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "grok-2", "solar-open", "kormo"},
        {"qwen2", {kQwen2}});
    add({"qwen35"}, {"qwen35", {kQwen35}});
    add({"poro-chat", "poro", "bloom", "gpt3-finnish", "gpt-3-finnish"}, {"bloom", {kBloom}});
    add({"viking"}, {"viking", {kBloom, R"re(\p{N})re"}});
    add({"tekken"}, {"tekken", {kTekken}, /*ignore_merges=*/true, /*add_bos=*/true});
    add({"chameleon"},
        {"chameleon",
         {R"re(<sentinel:[0-9]+>)re", R"re((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)re", R"re(([\t\n]|    |  ))re",
          R"re(\p{N})re", R"re([\p{P}!-/:-@\[-`{-~])re", kGpt2},
         false,
         /*add_bos=*/true});
    add({"gpt-4o", "llama4", "minimax-m2", "kanana2"}, {"gpt-4o", {kGpt4o}});
    add({"superbpe"}, {"superbpe", {R"re(\p{N}+)re", R"re((?=(\d{3})+(?!\d)))re"}});
    add({"bailingmoe", "bailingmoe2", "llada-moe"}, {"bailingmoe", {kBailing}});
    add({"seed-coder"}, {"seed-coder", {kSeedCoder}});
    return v;
  }();
  return t;
}

}  // namespace

const PreTokenizerRules* find_pre_tokenizer(std::string_view pre) {
  if (pre.empty()) pre = "default";
  for (const Entry& e : table()) {
    for (std::string_view n : e.names) {
      if (n == pre) return &e.rules;
    }
  }
  return nullptr;
}

std::vector<std::string> known_pre_tokenizers() {
  std::vector<std::string> out;
  for (const Entry& e : table()) {
    for (std::string_view n : e.names) out.emplace_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace llmd::engine
