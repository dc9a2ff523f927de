#include "engine/tokenizer/vocab.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "base/log.hpp"

namespace llmd::engine {
namespace {

constexpr ErrorCode kBadMetadata = ErrorCode::tokenizer_bad_metadata;

Error bad(const gguf::GgufFile& f, const std::string& key, const std::string& what) {
  return Error(kBadMetadata, "GGUF " + f.name() + ": metadata '" + key + "' " + what);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Texts of tokens that end a turn or a document in common chat models. A
// token with one of these texts ends generation and is treated as a control
// token even when the file forgot to mark it so.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>",      "<|im_end|>",    "<|end|>",   "<|return|>",       "<|call|>",
    "<end_of_turn>",   "<|endoftext|>", "<|eom_id|>", "<EOT>",           "_<EOT>",
    "<|end_of_text|>", "<end_of_utterance>",
};

// Texts that stand for "end of turn" when tokenizer.ggml.eot_token_id is absent.
constexpr std::string_view kEndOfTurnTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>",      "_<EOT>",     "<｜end▁of▁sentence｜>", "<end_of_utterance>",
};

// Fill-in-the-middle padding / repository / file-separator tokens: models
// that know them stop when they produce one.
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>", "<fim-separator>", "<file_sep>", "<FILE_SEP>"};

}  // namespace

Result<std::unique_ptr<Vocab>> Vocab::load(const gguf::GgufFile& f) {
  auto v = std::unique_ptr<Vocab>(new Vocab());
  const gguf::GgufValue* model = f.find("tokenizer.ggml.model");
  if (!model) {
    return Error(ErrorCode::tokenizer_missing, "GGUF " + f.name() + " has no tokenizer (metadata 'tokenizer.ggml.model' is absent)");
  }
  if (!model->as_string()) return bad(f, "tokenizer.ggml.model", "must be a string");
  v->model_ = *model->as_string();
  if (v->model_ == "llama") {
    v->kind_ = VocabKind::kSentencePiece;
  } else if (v->model_ == "gpt2") {
    v->kind_ = VocabKind::kByteBpe;
  } else {
    std::string what;
    if (v->model_ == "bert") what = " (WordPiece)";
    else if (v->model_ == "t5") what = " (SentencePiece unigram)";
    else if (v->model_ == "rwkv") what = " (RWKV trie)";
    else if (v->model_ == "no_vocab" || v->model_ == "none") what = " (no vocabulary)";
    return Error(ErrorCode::tokenizer_unsupported_model,
                 "GGUF " + f.name() + ": tokenizer.ggml.model '" + v->model_ + "'" + what +
                     " is not supported; supported tokenizers are 'llama' (SentencePiece BPE) and 'gpt2' "
                     "(byte-level BPE)");
  }
  if (const gguf::GgufValue* pre = f.find("tokenizer.ggml.pre")) {
    if (!pre->as_string()) return bad(f, "tokenizer.ggml.pre", "must be a string");
    v->pre_ = *pre->as_string();
  }
  v->name_ = f.get_string("general.name").value_or("");

  if (auto s = v->read_tokens(f); !s) return s.take_error();

  if (v->kind_ == VocabKind::kSentencePiece) {
    v->add_bos_ = true;
    v->add_space_prefix_ = true;
    // SentencePiece defaults when the file names no ids.
    if (v->size() > 2) {
      v->unk_ = 0;
      v->bos_ = 1;
      v->eos_ = 2;
    }
  }
  if (const gguf::GgufValue* p = f.find("tokenizer.ggml.add_space_prefix")) {
    if (!p->as_bool()) return bad(f, "tokenizer.ggml.add_space_prefix", "must be a bool");
    v->add_space_prefix_ = *p->as_bool();
  }
  if (auto s = v->read_special_ids(f); !s) return s.take_error();
  v->detect_end_of_generation();
  v->apply_name_rules();
  v->build_special_list();
  return v;
}

Status Vocab::read_tokens(const gguf::GgufFile& f) {
  const gguf::GgufValue* toks = f.find("tokenizer.ggml.tokens");
  if (!toks) return bad(f, "tokenizer.ggml.tokens", "is absent");
  const std::vector<std::string>* texts = toks->as_string_array();
  if (!texts) return bad(f, "tokenizer.ggml.tokens", "must be an array of strings");
  if (texts->empty()) return bad(f, "tokenizer.ggml.tokens", "is empty");
  if (texts->size() > static_cast<size_t>(std::numeric_limits<int32_t>::max() / 2)) {
    return bad(f, "tokenizer.ggml.tokens", "has too many entries");
  }
  const size_t n = texts->size();

  std::vector<float> scores;
  if (const gguf::GgufValue* s = f.find("tokenizer.ggml.scores")) {
    const gguf::GgufArray* a = s->as_array();
    if (!a || (a->elem != gguf::GgufType::F32 && a->elem != gguf::GgufType::I32)) {
      return bad(f, "tokenizer.ggml.scores", "must be an array of f32");
    }
    if (a->count != n) {
      return bad(f, "tokenizer.ggml.scores",
                 "has " + std::to_string(a->count) + " entries for " + std::to_string(n) + " tokens");
    }
    scores = *s->to_f32_vector();
  }
  std::vector<int32_t> types;
  if (const gguf::GgufValue* t = f.find("tokenizer.ggml.token_type")) {
    const gguf::GgufArray* a = t->as_array();
    const bool integer_elems = a && a->elem != gguf::GgufType::F32 && a->elem != gguf::GgufType::F64 &&
                               a->elem != gguf::GgufType::BOOL && a->elem != gguf::GgufType::STRING &&
                               a->elem != gguf::GgufType::ARRAY;
    auto vec = integer_elems ? t->to_i32_vector() : std::nullopt;
    if (!vec) return bad(f, "tokenizer.ggml.token_type", "must be an array of integers");
    if (a->count != n) {
      return bad(f, "tokenizer.ggml.token_type",
                 "has " + std::to_string(a->count) + " entries for " + std::to_string(n) + " tokens");
    }
    types = std::move(*vec);
  }

  tokens_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    TokenData& t = tokens_[i];
    t.text = (*texts)[i];
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";
    // A NaN score would break the ordering of merges: treat it as the lowest.
    if (!scores.empty()) t.score = std::isnan(scores[i]) ? -std::numeric_limits<float>::infinity() : scores[i];
    if (!types.empty()) {
      switch (types[i]) {
        case 1: t.attr = token_attr::kNormal; break;
        case 2: t.attr = token_attr::kUnknown; break;
        case 3: t.attr = token_attr::kControl; break;
        case 4: t.attr = token_attr::kUserDefined; break;
        case 5: t.attr = token_attr::kUnused; break;
        case 6: t.attr = token_attr::kByte; break;
        default: t.attr = 0; break;  // undefined
      }
    }
  }
  // The index holds views into the texts, so it is built once they are final.
  std::vector<std::string_view> views(n);
  for (size_t i = 0; i < n; ++i) views[i] = tokens_[i].text;
  index_.build(std::move(views));
  const size_t n_duplicates = index_.duplicates();
  if (n_duplicates) {
    log::warnf("tokenizer: %s: %zu token texts appear more than once; the first id of each is used", f.name().c_str(),
               n_duplicates);
  }
  return {};
}

Status Vocab::read_special_ids(const gguf::GgufFile& f) {
  struct Key {
    const char* key;
    int32_t* id;
  };
  const Key keys[] = {
      {"tokenizer.ggml.bos_token_id", &bos_},         {"tokenizer.ggml.eos_token_id", &eos_},
      {"tokenizer.ggml.eot_token_id", &eot_},         {"tokenizer.ggml.eom_token_id", &eom_},
      {"tokenizer.ggml.unknown_token_id", &unk_},     {"tokenizer.ggml.seperator_token_id", &sep_},
      {"tokenizer.ggml.padding_token_id", &pad_},     {"tokenizer.ggml.fim_pad_token_id", &fim_pad_},
      {"tokenizer.ggml.fim_rep_token_id", &fim_rep_}, {"tokenizer.ggml.fim_sep_token_id", &fim_sep_},
  };
  for (const Key& k : keys) {
    const gguf::GgufValue* v = f.find(k.key);
    if (!v) continue;
    auto n = v->as_i64();
    if (!v->is_integer() || (!n && v->type() != gguf::GgufType::U64)) {
      return bad(f, k.key, "must be an integer");
    }
    if (!n || *n < 0 || *n >= size()) {
      // Converters write UINT32_MAX (or other out-of-range values) for "none".
      if (n && *n != 0xFFFFFFFFll && *n != -1) {
        log::warnf("tokenizer: %s: %s = %lld is outside the vocabulary of %d tokens; ignored", f.name().c_str(),
                   k.key, static_cast<long long>(*n), size());
      }
      *k.id = -1;
      continue;
    }
    *k.id = static_cast<int32_t>(*n);
  }
  if (const gguf::GgufValue* v = f.find("tokenizer.ggml.add_bos_token")) {
    if (!v->as_bool()) return bad(f, "tokenizer.ggml.add_bos_token", "must be a bool");
    add_bos_ = *v->as_bool();
    add_bos_from_file_ = true;
  }
  if (const gguf::GgufValue* v = f.find("tokenizer.ggml.add_eos_token")) {
    if (!v->as_bool()) return bad(f, "tokenizer.ggml.add_eos_token", "must be a bool");
    add_eos_ = *v->as_bool();
  }
  return {};
}

Status Vocab::check_flags() const {
  if (add_bos_ && bos_ < 0) {
    return Error(kBadMetadata, "tokenizer asks to add a BOS token (tokenizer.ggml.add_bos_token) but has no "
                               "tokenizer.ggml.bos_token_id");
  }
  if (add_eos_ && eos_ < 0) {
    return Error(kBadMetadata, "tokenizer asks to add an EOS token (tokenizer.ggml.add_eos_token) but has no "
                               "tokenizer.ggml.eos_token_id");
  }
  return {};
}

void Vocab::detect_end_of_generation() {
  auto mark_control = [&](int32_t id) {
    if (!(tokens_[static_cast<size_t>(id)].attr & token_attr::kControl)) {
      log::debugf("tokenizer: token %d '%s' ends generation; treating it as a control token", id,
                  tokens_[static_cast<size_t>(id)].text.c_str());
      tokens_[static_cast<size_t>(id)].attr |= token_attr::kControl;
    }
  };
  auto find_first = [&](auto& texts) -> int32_t {
    for (std::string_view t : texts) {
      if (int32_t id = find(t); id >= 0) return id;
    }
    return -1;
  };
  if (eot_ < 0) {
    eot_ = find_first(kEndOfTurnTexts);
    if (eot_ >= 0) mark_control(eot_);
  }
  if (eom_ < 0) {
    eom_ = find("<|eom_id|>");
    if (eom_ >= 0) mark_control(eom_);
  }
  if (fim_pad_ < 0) fim_pad_ = find_first(kFimPadTexts);
  if (fim_rep_ < 0) fim_rep_ = find_first(kFimRepTexts);
  if (fim_sep_ < 0) fim_sep_ = find_first(kFimSepTexts);

  eog_.assign(tokens_.size(), false);
  auto add = [&](int32_t id) {
    if (id >= 0 && !eog_[static_cast<size_t>(id)]) {
      eog_[static_cast<size_t>(id)] = true;
      eog_list_.push_back(id);
    }
  };
  for (std::string_view t : kEndOfGenerationTexts) {
    if (int32_t id = find(t); id >= 0) {
      add(id);
      mark_control(id);
    }
  }
  add(eos_);
  add(eot_);
  add(eom_);
  add(fim_pad_);
  add(fim_rep_);
  add(fim_sep_);
  std::sort(eog_list_.begin(), eog_list_.end());
}

void Vocab::apply_name_rules() {
  // Phi-3 models declare their chat tokens with "rstrip": whitespace right
  // after one of them belongs to the token (the tokenizer.json flag is not
  // carried into GGUF, so it is restored from the model name).
  const std::string n = lower(name_);
  if (n.find("phi-3") != std::string::npos || n.find("phi3") != std::string::npos) {
    for (auto& t : tokens_) {
      if (t.attr & (token_attr::kControl | token_attr::kUserDefined | token_attr::kUnknown)) {
        t.attr |= token_attr::kRstrip;
      }
    }
    if (int32_t id = find("</s>"); id >= 0) tokens_[static_cast<size_t>(id)].attr |= token_attr::kRstrip;
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (int32_t id = find(text); id >= 0) tokens_[static_cast<size_t>(id)].attr &= ~token_attr::kRstrip;
    }
  }
}

void Vocab::build_special_list() {
  special_by_length_.clear();
  for (int32_t id = 0; id < size(); ++id) {
    if (attr(id) & (token_attr::kControl | token_attr::kUserDefined | token_attr::kUnknown)) {
      special_by_length_.push_back(id);
    }
  }
  std::stable_sort(special_by_length_.begin(), special_by_length_.end(), [&](int32_t a, int32_t b) {
    return token(a).text.size() > token(b).text.size();
  });
}

}  // namespace llmd::engine
