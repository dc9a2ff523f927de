#include "engine/tokenizer/tokenizer.hpp"

#include <algorithm>
#include <cstdlib>

#include "base/log.hpp"
#include "engine/tokenizer/bpe_encoder.hpp"
#include "engine/tokenizer/byte_unicode.hpp"
#include "engine/tokenizer/pre_tokenizer.hpp"
#include "engine/tokenizer/special_partition.hpp"
#include "engine/tokenizer/spm_encoder.hpp"

namespace llmd::engine {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

// "<0xNN>" -> NN, or -1.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string make_piece(const Vocab& v, int32_t id) {
  const TokenData& t = v.token(id);
  const uint32_t a = t.attr;
  if (a & (token_attr::kControl | token_attr::kUnknown | token_attr::kUserDefined)) return t.text;
  if (a & token_attr::kNormal) {
    std::string out;
    if (v.kind() == VocabKind::kSentencePiece) {
      out = t.text;
      replace_all(out, kSpaceMark, " ");
    } else {
      byte_unicode::decode(t.text, &out);
    }
    return out;
  }
  if (a & token_attr::kByte) {
    const int b = parse_byte_token(t.text);
    if (b >= 0) return std::string(1, static_cast<char>(b));
    std::string out;
    if (v.kind() == VocabKind::kByteBpe) byte_unicode::decode(t.text, &out);
    return out;
  }
  return {};  // unused or undefined tokens produce no text
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  auto vocab = Vocab::load(file);
  if (!vocab) return vocab.take_error();
  auto tok = std::unique_ptr<Tokenizer>(new Tokenizer());
  tok->vocab_ = std::move(*vocab);
  Vocab& v = *tok->vocab_;

  if (v.kind() == VocabKind::kByteBpe) {
    const PreTokenizerRules* rules = find_pre_tokenizer(v.pre());
    if (!rules) {
      std::string known;
      for (const auto& n : known_pre_tokenizers()) known += (known.empty() ? "" : ", ") + n;
      return Error(ErrorCode::tokenizer_unsupported_pre, "GGUF " + file.name() + ": tokenizer.ggml.pre '" + v.pre() +
                                                    "' names pre-tokenizer rules this build does not know; known: " +
                                                    known);
    }
    if (v.pre().empty()) {
      log::warnf("tokenizer: %s has no tokenizer.ggml.pre; using the 'default' pre-tokenizer rules, which may not "
                 "match the model",
                 file.name().c_str());
    }
    if (rules->add_bos) v.set_default_add_bos(*rules->add_bos);
    auto bpe = BpeEncoder::create(v, file, *rules);
    if (!bpe) return bpe.take_error();
    tok->bpe_ = std::move(*bpe);
    tok->pre_family_ = std::string(rules->family);
  } else {
    tok->spm_ = std::make_unique<SpmEncoder>(v);
  }
  if (auto s = v.check_flags(); !s) return s.take_error();

  tok->partitioner_ = std::make_unique<SpecialPartitioner>(v);
  tok->pieces_.resize(static_cast<size_t>(v.size()));
  for (int32_t id = 0; id < v.size(); ++id) tok->pieces_[static_cast<size_t>(id)] = make_piece(v, id);

  log::debugf("tokenizer: %s: %s%s%s, %d tokens, bos %d, eos %d, add_bos %d, add_eos %d, %zu end-of-generation ids",
              file.name().c_str(), v.model().c_str(), tok->pre_family_.empty() ? "" : " pre ",
              tok->pre_family_.c_str(), v.size(), v.bos_id(), v.eos_id(), v.add_bos() ? 1 : 0, v.add_eos() ? 1 : 0,
              v.eog_ids().size());
  return tok;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  return encode(text, add_special, parse_special, {});
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special,
                                       std::span<const std::pair<size_t, size_t>> literal) const {
  std::vector<int32_t> out;
  std::vector<Fragment> frags;
  partitioner_->partition(text, parse_special, literal, &frags);
  const Vocab& v = *vocab_;
  if (add_special && v.add_bos()) out.push_back(v.bos_id());

  if (spm_) {
    bool prev_special = true;  // the first text fragment gets the leading space
    std::string buf;
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      buf.clear();
      if (v.add_space_prefix() && prev_special) buf += ' ';
      buf.append(text.substr(f.offset, f.length));
      replace_all(buf, " ", kSpaceMark);
      spm_->encode(buf, &out);
      prev_special = false;
    }
  } else {
    for (const Fragment& f : frags) {
      if (f.token >= 0) out.push_back(f.token);
      else bpe_->encode(text.substr(f.offset, f.length), &out);
    }
  }

  if (add_special && v.add_eos()) out.push_back(v.eos_id());
  return out;
}

std::string_view Tokenizer::piece_for(int32_t id, bool first, bool render_special, bool strip_leading_space) const {
  if (!vocab_->valid_id(id)) return {};
  if (!render_special && (vocab_->attr(id) & (token_attr::kControl | token_attr::kUnknown))) return {};
  std::string_view p = pieces_[static_cast<size_t>(id)];
  if (first && strip_leading_space && spm_ && vocab_->add_space_prefix() && !p.empty() && p[0] == ' ') {
    p.remove_prefix(1);
  }
  return p;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const { return decode(ids, DecodeOptions{}); }

std::string Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
  utf8::Sanitizer s;
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    const bool render = options.render_special ||
                        std::find(options.shown_control.begin(), options.shown_control.end(), id) !=
                            options.shown_control.end();
    s.push(piece_for(id, first, render, options.strip_leading_space), &out);
    first = false;
  }
  out += s.finish();
  return out;
}

std::string Tokenizer::token_text(int32_t id) const {
  return vocab_->valid_id(id) ? vocab_->token(id).text : std::string();
}

std::string_view Tokenizer::token_piece(int32_t id) const {
  return vocab_->valid_id(id) ? std::string_view(pieces_[static_cast<size_t>(id)]) : std::string_view();
}

int32_t Tokenizer::n_vocab() const { return vocab_->size(); }
int32_t Tokenizer::bos_id() const { return vocab_->bos_id(); }
int32_t Tokenizer::eos_id() const { return vocab_->eos_id(); }
int32_t Tokenizer::eot_id() const { return vocab_->eot_id(); }
bool Tokenizer::add_bos() const { return vocab_->add_bos(); }
bool Tokenizer::add_eos() const { return vocab_->add_eos(); }
bool Tokenizer::is_eog(int32_t id) const { return vocab_->is_eog(id); }
std::span<const int32_t> Tokenizer::eog_ids() const { return vocab_->eog_ids(); }
bool Tokenizer::is_control(int32_t id) const {
  return vocab_->valid_id(id) && (vocab_->attr(id) & (token_attr::kControl | token_attr::kUnknown));
}
VocabKind Tokenizer::kind() const { return vocab_->kind(); }
const std::string& Tokenizer::model() const { return vocab_->model(); }
const std::string& Tokenizer::pre_tokenizer() const { return pre_family_; }

}  // namespace llmd::engine
