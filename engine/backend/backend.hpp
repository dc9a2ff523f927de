// The compute backend interface. The CPU backend (engine/cpu) and the CUDA
// backend (engine/cuda) implement it; everything above (the model runner, the
// scheduler) sees only this.
//
// A backend owns the model's weights in its memory and the physical storage of
// the paged KV-cache. Which KV block belongs to which sequence is decided above
// it (engine/kv): a forward step receives, for each sequence, its block table.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/core/result.hpp"

namespace llmd::engine {

// Which logits a sequence of the batch wants back.
enum class LogitsMode : uint8_t {
  none,  // prefill chunk that is not the last one
  last,  // the last token of the chunk (decode, final prefill chunk)
  all,   // every token of the chunk (tests, prompt logprobs)
};

// One sequence's share of a forward step.
struct BatchSeq {
  std::span<const int32_t> tokens;       // new tokens this step: 1 for decode, a chunk for prefill
  int32_t pos = 0;                       // position of tokens[0] == tokens already in the KV-cache
  std::span<const int32_t> block_table;  // physical KV blocks covering positions [0, pos + tokens.size())
  LogitsMode logits = LogitsMode::last;
};

struct ForwardBatch {
  std::vector<BatchSeq> seqs;
};

// Logits rows in batch order: for each sequence 0, 1 or tokens.size() rows as
// its LogitsMode asks. logits has n_rows * n_vocab floats, row-major.
struct ForwardOutput {
  int32_t n_rows = 0;
  int32_t n_vocab = 0;
  std::vector<float> logits;
  std::span<const float> row(int32_t r) const {
    return {logits.data() + static_cast<size_t>(r) * static_cast<size_t>(n_vocab), static_cast<size_t>(n_vocab)};
  }
};

enum class KvDtype : uint8_t { f16, q8_0, f32 };

struct KvCacheShape {
  int32_t n_blocks = 0;     // physical blocks in the pool
  int32_t block_size = 16;  // tokens per block
  KvDtype dtype = KvDtype::f16;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu", "cuda:0", ...
  virtual std::string name() const = 0;

  // Allocates the KV storage of a pool; may be called again to resize (which
  // discards the cache contents).
  virtual Status init_kv(const KvCacheShape& shape) = 0;
  // Bytes one KV block takes in this backend (for memory budgets).
  virtual uint64_t kv_block_bytes(const KvCacheShape& shape) const = 0;

  // Runs one step: writes K/V of the new tokens into their blocks, attends over
  // each sequence's paged history, and returns the requested logits. Sequences
  // are independent; the result for each equals running it alone.
  virtual Status forward(const ForwardBatch& batch, ForwardOutput* out) = 0;

  // Copies the K/V contents of one physical block to another (copy-on-write of
  // a shared partial block).
  virtual Status copy_kv_block(int32_t src, int32_t dst) = 0;

  // False once an unrecoverable device error happened (the daemon then stops
  // serving the model and exits so it can be restarted).
  virtual bool healthy() const { return true; }
};

}  // namespace llmd::engine
