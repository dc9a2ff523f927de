// VocabTrie: every token's text as bytes, in a trie laid out in preorder, so
// that a walk together with the grammar state checks each shared prefix once.
//
// Built once per vocabulary (the scheduler keeps one per model). A token's
// bytes are what it adds to decoded text (Tokenizer::token_piece): byte-level
// BPE symbols mapped back to bytes, SentencePiece "▁" as a space and <0xXX>
// byte-fallback tokens as their byte. Control and unknown tokens and tokens
// without text are left out (never allowed under a grammar), except the
// control tokens a request shows as text (a tool-call format's markers);
// end-of-generation tokens are listed apart (allowed when the document may
// end).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmd::engine {
class Tokenizer;
}

namespace llmd::engine::structured {

class VocabTrie {
 public:
  explicit VocabTrie(const Tokenizer& tok, const std::vector<int32_t>& shown_control = {});
  // pieces[id]: the token's bytes ("" for none); eog: end-of-generation ids.
  VocabTrie(const std::vector<std::string>& pieces, std::vector<int32_t> eog);

  int32_t n_vocab() const { return n_vocab_; }
  size_t size() const { return byte_.size(); }  // nodes
  const std::vector<int32_t>& eog() const { return eog_; }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  bool is_eog(int32_t id) const;
  size_t max_depth() const { return max_depth_; }

  // Node i (preorder): its byte, its depth (1 for a first byte), the node
  // after its subtree, and the tokens that end at it.
  uint8_t byte(size_t i) const { return byte_[i]; }
  uint16_t depth(size_t i) const { return depth_[i]; }
  uint32_t skip(size_t i) const { return skip_[i]; }
  std::pair<const int32_t*, const int32_t*> tokens(size_t i) const {
    return {ids_.data() + ids_begin_[i], ids_.data() + ids_begin_[i + 1]};
  }

  // Node i's path read as the content of a JSON string (from a point with no
  // UTF-8 sequence open): whether every byte may appear there unescaped and
  // they form valid UTF-8 so far; how many code points start on the path; the
  // continuation bytes still expected after it and the range of the next one.
  struct TextInfo {
    uint8_t ok = 1;
    uint8_t need = 0, lo = 0, hi = 0;
    uint16_t code_points = 0;
  };
  const TextInfo& text(size_t i) const { return text_[i]; }

 private:
  void build(const std::vector<std::string>& pieces);

  int32_t n_vocab_ = 0;
  std::vector<std::string> pieces_;
  std::vector<int32_t> eog_;
  std::vector<uint8_t> byte_;
  std::vector<uint16_t> depth_;
  std::vector<uint32_t> skip_;
  std::vector<TextInfo> text_;
  std::vector<uint32_t> ids_begin_;  // size() + 1 entries
  std::vector<int32_t> ids_;
  size_t max_depth_ = 0;
};

}  // namespace llmd::engine::structured
