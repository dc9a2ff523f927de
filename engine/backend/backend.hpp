// The compute backend interface. The CPU backend (engine/cpu) and the CUDA
// backend (engine/cuda) implement it; everything above (the model runner, the
// scheduler) sees only this.
//
// A backend owns the model's weights in its memory and the physical storage of
// the paged KV-cache. Which KV block belongs to which sequence is decided above
// it (engine/kv): a forward step receives, for each sequence, its block table.
//
// Contract shared by every backend:
//  - A KV block holds block_size consecutive positions of one sequence, K and V
//    of every layer; its byte layout is the backend's own (see the backend's
//    header). Position p of a sequence lives in block_table[p / block_size] at
//    slot p % block_size.
//  - forward() validates the whole batch before computing anything and fails
//    with "forward_bad_batch" (empty chunk, negative position, a block table
//    too short for pos + tokens or naming a block outside the pool, a token id
//    outside the vocabulary) or "kv_not_initialized"; the KV contents are then
//    unchanged. Blocks written by one sequence of a batch must not be read or
//    written by another sequence of the same batch (shared prefix blocks are
//    read-only; copy_kv_block makes a private copy first).
//  - A batch may be of any size: backends cut large ones into steps they can
//    hold, transparently.
//  - Results are per sequence: a sequence's logits do not depend on what else
//    is in the batch, how its prompt was split into chunks, or the thread
//    count (the CPU backend guarantees identical bits).
//  - A backend is driven by one thread at a time (the engine loop); calls are
//    not reentrant.
//
// Layer ranges (one stage of a model split across devices):
//  - A backend may run only the contiguous layers [first, last) of a model
//    (layer_range()). The first stage (first == 0) embeds the batch's tokens;
//    a later stage takes instead the hidden-state rows the stage before it
//    produced. The last stage (last == n_layer) applies the final norm and
//    output head and returns logits; an earlier stage returns the hidden-state
//    rows after its last layer. Both go through forward_stage(); forward() is
//    the whole-model call and fails with "forward_bad_batch" on a backend that
//    is not both first and last stage.
//  - Hidden-state rows are f32, n_embd per token, one per token of the batch
//    in batch order (sequence by sequence, each sequence's tokens in order),
//    whatever the LogitsMode asks: the next stage needs every token for its
//    own KV. They are the residual stream exactly as the layer left it, so a
//    model cut into stages computes what it computes in one piece.
//  - A stage holds K/V only for its own layers; a KV block id names the same
//    positions in every stage's pool (init_kv is given the same shape).
//  - The batch is still given whole to every stage (positions, block tables
//    and LogitsMode come from it); token ids are read by the first stage only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/sampling/sample_plan.hpp"

namespace llmd::engine {

// Which logits a sequence of the batch wants back.
enum class LogitsMode : uint8_t {
  none,  // prefill chunk that is not the last one
  last,  // the last token of the chunk (decode, final prefill chunk)
  all,   // every token of the chunk (tests, prompt logprobs)
  // Embeddings: instead of logits, the final hidden state after the output
  // norm (n_embd floats, before the output head) of the chunk's last token or
  // of every token, in ForwardOutput::embeddings. A backend that cannot
  // produce them refuses the batch with "forward_bad_batch".
  embed_last,
  embed_all,
};

inline bool is_embedding_mode(LogitsMode m) { return m == LogitsMode::embed_last || m == LogitsMode::embed_all; }

// One sequence's share of a forward step.
struct BatchSeq {
  std::span<const int32_t> tokens;       // new tokens this step: 1 for decode, a chunk for prefill
  int32_t pos = 0;                       // position of tokens[0] == tokens already in the KV-cache
  std::span<const int32_t> block_table;  // physical KV blocks covering positions [0, pos + tokens.size())
  LogitsMode logits = LogitsMode::last;
};

// A token to choose from logits row `row` of the step's output with `plan`
// (sample_plan.hpp). Several entries may name the same row.
struct RowSample {
  int32_t row = 0;
  const SamplePlan* plan = nullptr;
};

struct ForwardBatch {
  std::vector<BatchSeq> seqs;
  // Tokens to choose after the step (see Backend::samples_rows); the plans
  // must outlive the call.
  std::vector<RowSample> samples;
};

// Logits rows in batch order: for each sequence 0, 1 or tokens.size() rows as
// its LogitsMode asks. logits has n_rows * n_vocab floats, row-major. The
// embedding modes' rows go to `embeddings` instead, in batch order too.
struct ForwardOutput {
  int32_t n_rows = 0;
  int32_t n_vocab = 0;
  std::vector<float> logits;
  int32_t n_embd_rows = 0;
  int32_t n_embd = 0;
  std::vector<float> embeddings;  // n_embd_rows * n_embd, row-major
  // One per ForwardBatch::samples entry, in order, when the backend chose
  // them (samples_rows()); forward_and_sample() fills it otherwise.
  std::vector<SampledToken> sampled;
  std::span<const float> row(int32_t r) const {
    return {logits.data() + static_cast<size_t>(r) * static_cast<size_t>(n_vocab), static_cast<size_t>(n_vocab)};
  }
  std::span<const float> embedding_row(int32_t r) const {
    return {embeddings.data() + static_cast<size_t>(r) * static_cast<size_t>(n_embd), static_cast<size_t>(n_embd)};
  }
};

// One row of n_embd floats per token of a batch, in batch order: what one
// stage of a split model hands to the next.
struct HiddenRows {
  int32_t n_rows = 0;
  int32_t n_embd = 0;
  std::vector<float> data;  // n_rows * n_embd, row-major
  std::span<const float> row(int32_t r) const {
    return {data.data() + static_cast<size_t>(r) * static_cast<size_t>(n_embd), static_cast<size_t>(n_embd)};
  }
};

// The layers [first, last) of a model of n_layer layers that a backend runs.
// The default value {0, 0, 0} stands for "the whole model" (a backend that
// does not report a range): it is both the first and the last stage.
struct LayerRange {
  int32_t first = 0;
  int32_t last = 0;
  int32_t n_layer = 0;
  bool is_first() const { return first == 0; }
  bool is_last() const { return last == n_layer; }
  int32_t count() const { return last - first; }
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
  // discards the cache contents). Errors: "kv_bad_shape", "kv_unsupported_dtype"
  // (a backend need not support every KvDtype), "out_of_memory".
  virtual Status init_kv(const KvCacheShape& shape) = 0;
  // Bytes one KV block takes in this backend (for memory budgets); 0 when the
  // shape is not supported.
  virtual uint64_t kv_block_bytes(const KvCacheShape& shape) const = 0;

  // Runs one step: writes K/V of the new tokens into their blocks, attends over
  // each sequence's paged history, and returns the requested logits. Sequences
  // are independent; the result for each equals running it alone.
  virtual Status forward(const ForwardBatch& batch, ForwardOutput* out) = 0;

  // Copies the K/V contents of one physical block to another (copy-on-write of
  // a shared partial block). Errors: "kv_not_initialized", "kv_bad_block".
  virtual Status copy_kv_block(int32_t src, int32_t dst) = 0;

  // The layers this backend runs (see "Layer ranges" above).
  virtual LayerRange layer_range() const { return {}; }

  // One stage's step. `in`: the hidden rows of every token of the batch when
  // this is not the first stage (null otherwise). A last stage writes logits
  // to `logits` as forward() does; an earlier stage writes the hidden rows of
  // every token to `hidden`. Validates like forward(), and also fails with
  // "forward_bad_batch" when `in` is missing, unexpected or of the wrong
  // shape, or the output it needs is null. The default serves backends that
  // run the whole model.
  virtual Status forward_stage(const ForwardBatch& batch, const HiddenRows* in, ForwardOutput* logits,
                               HiddenRows* hidden) {
    if (in || hidden)
      return Error(ErrorCode::forward_bad_batch, name() + " runs the whole model: it takes no hidden rows");
    return forward(batch, logits);
  }

  // The checks forward() makes before it computes anything, alone: a split
  // backend asks every stage before it runs the first, so a batch one stage
  // would refuse leaves every pool unchanged. The default accepts all.
  virtual Status validate_batch(const ForwardBatch& batch) const {
    (void)batch;
    return ok_status();
  }

  // False once an unrecoverable device error happened (the daemon then stops
  // serving the model and exits so it can be restarted).
  virtual bool healthy() const { return true; }

  // True when forward() chooses the tokens of ForwardBatch::samples itself
  // (where the logits are, e.g. on the GPU): it then fills out->sampled with
  // exactly what choose_token(out->row(row), *plan) gives for each entry, and
  // may leave out->logits empty (n_rows and n_vocab still set). A backend that
  // returns false ignores the samples; forward_and_sample() chooses them on
  // the host from the logits.
  virtual bool samples_rows() const { return false; }

  // Bytes this backend holds in its device's memory now: weights in the form
  // it keeps them, the KV pool and workspaces (host RAM for the CPU backend;
  // file-backed pages it reads in place are not counted). Like every call,
  // from the thread that drives the backend (or before one does).
  virtual uint64_t memory_bytes() const { return 0; }
};

// forward(), then the batch's samples: chosen by the backend when it
// samples_rows(), otherwise here from the returned logits. Fails with
// "engine_error" when a sample names a row the output does not have.
Status forward_and_sample(Backend& backend, const ForwardBatch& batch, ForwardOutput* out);

}  // namespace llmd::engine
