// Engine-thread state of requests and of their choices (sequences).
//
// A sequence's tokens are its prompt followed by what it generated so far;
// num_computed of them have their K/V in the cache. A step feeds it the next
// chunk of uncomputed tokens (the whole rest, or what the token budget allows;
// exactly one while decoding); when none are left after a step, the logits of
// its last token give the next token. Preemption releases its blocks and sets
// num_computed back to 0: it is recomputed later, mostly from the prefix cache.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/embed/pooler.hpp"
#include "engine/kv/block_table.hpp"
#include "engine/sampling/sampler.hpp"
#include "scheduler/choice_stream.hpp"
#include "scheduler/request.hpp"

namespace llmd::scheduler {

struct RequestState;

enum class SeqState : uint8_t {
  unborn,    // a choice of n > 1 whose prompt is not computed yet (forked later)
  waiting,   // in its team's admission queue
  running,   // admitted: holds KV blocks
  finished,
};

struct Sequence {
  RequestState* req = nullptr;
  int32_t choice = 0;
  SeqState state = SeqState::waiting;

  std::vector<int32_t> tokens;  // prompt ++ generated
  int32_t prompt_len = 0;
  int32_t num_computed = 0;     // tokens whose K/V are in the cache
  bool decoding = false;        // admitted and past its prompt / recomputation
  uint64_t admit_order = 0;     // larger = admitted more recently
  uint64_t admit_step = 0;      // the planner's step count when it was admitted
  int32_t charged = 0;          // positions [0, charged) were charged to the team's fair share
  engine::kv::BlockTable table;

  std::optional<engine::Sampler> sampler;
  std::optional<engine::Pooler> pooler;  // embedding requests only
  std::unique_ptr<engine::TokenConstraint> constraint;  // structured output, else null
  std::unique_ptr<ChoiceStream> text;

  // Output gathered for this choice's next event.
  std::vector<GeneratedToken> pending_tokens;
  std::string pending_text;
  std::vector<float> pending_embedding;

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  int32_t remaining() const { return size() - num_computed; }
  int32_t generated() const { return size() - prompt_len; }
  std::span<const int32_t> prompt() const { return {tokens.data(), static_cast<size_t>(prompt_len)}; }
  std::span<const int32_t> completion() const {
    return {tokens.data() + prompt_len, static_cast<size_t>(generated())};
  }
  // The handle FairQueue stores for it.
  uint64_t handle() const { return reinterpret_cast<uintptr_t>(this); }
  static Sequence* from_handle(uint64_t h) { return reinterpret_cast<Sequence*>(static_cast<uintptr_t>(h)); }
};

struct RequestState {
  RequestId id = 0;
  GenerationRequest params;      // prompt and sink included
  engine::kv::BlockHash root;    // hash_salt(params.cache_salt)
  // All n choices exist from the start; choices[0] computes the prompt and the
  // others stay unborn until they are forked from it (sharing its blocks).
  std::vector<std::unique_ptr<Sequence>> choices;
  bool forked = false;           // n == 1, or the other choices exist
  bool admitted = false;         // left the admission queue (for queue limits)
  int32_t unfinished = 0;        // choices not finished yet (of n)
  Usage usage;
};

}  // namespace llmd::scheduler
