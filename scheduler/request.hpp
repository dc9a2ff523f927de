// What a caller (the OpenAI layer) hands the scheduler, and what it gets back.
//
// A request is a prompt of token ids plus how to continue it; it produces
// `n` choices that share the prompt. An embedding request (`embed` set) only
// computes its prompt and returns the pooled hidden state. Results stream through the request's
// EventSink, which the engine thread calls: cheap, never blocking, never
// calling back into the scheduler except submit() and abort() (both only post).
//
// Event order per request: for every choice, zero or more events with new
// tokens and text, then exactly one event with `finish` set; the event that
// finishes the last choice also has `done` set and carries the final usage.
// After `done` the sink is never called again and is destroyed on the engine
// thread. Every accepted request ends with `done`, also when aborted, failed or
// when the scheduler stops.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/model/model_config.hpp"
#include "engine/sampling/logprobs.hpp"
#include "engine/sampling/sampling_params.hpp"
#include "engine/structured/grammar.hpp"

namespace llmd::scheduler {

using RequestId = uint64_t;

// Scheduling class of a request. Batch work fills capacity that interactive
// work leaves idle: it is admitted only while no interactive sequence waits,
// and it is preempted first when an interactive one needs room.
enum class Priority : uint8_t { interactive, batch };

// "interactive", "batch".
std::string_view to_string(Priority p);
// Parses "interactive" / "batch"; false otherwise.
bool parse_priority(std::string_view text, Priority* out);

enum class FinishReason : uint8_t {
  none,    // not finished (on intermediate events)
  stop,    // a stop string or one of stop_token_ids
  length,  // max_tokens, or the context limit
  eos,     // an end-of-generation token of the model (OpenAI reports it as "stop")
  abort,   // abort() was called, or the scheduler stopped
  error,   // the backend failed; see StreamEvent::error
};

// "stop", "length", "eos", "abort", "error" ("" for none).
std::string_view to_string(FinishReason r);

struct GeneratedToken {
  int32_t id = -1;
  float logprob = 0.0f;                            // NaN unless logprobs were asked for
  std::vector<engine::TokenLogprob> top_logprobs;  // sampling.n_logprobs entries
};

struct Usage {
  int32_t prompt_tokens = 0;      // the prompt, counted once for all choices
  int32_t completion_tokens = 0;  // sampled tokens of all choices (an end-of-generation token included)
  int32_t cached_tokens = 0;      // prompt tokens served from the prefix cache at admission
};

struct StreamEvent {
  RequestId request = 0;
  int32_t choice = 0;                  // 0 .. n-1
  std::vector<GeneratedToken> tokens;  // this choice's new tokens (end-of-generation and stop ids excluded)
  std::string text;                    // new text, safe to show: valid UTF-8, no part of a stop string
  FinishReason finish = FinishReason::none;  // set on the choice's last event
  int32_t stop_index = -1;             // index into `stop` of the string that ended the choice
  bool done = false;                   // the request's last event
  Usage usage;                         // final when done; running totals otherwise
  Error error;                         // when finish == error
  // An embedding request's result: on its one `done` event with finish ==
  // stop, the pooled, L2-normalised embedding (n_embd floats).
  std::vector<float> embedding;
};

using EventSink = std::function<void(StreamEvent&&)>;

struct GenerationRequest {
  std::vector<int32_t> prompt;    // token ids, BOS included as the model wants
  engine::SamplingParams sampling;
  int32_t max_tokens = 0;         // per choice; 0 → until the context limit
  int32_t n = 1;                  // choices; with sampling.seed set, choice i samples with seed + i
  std::vector<std::string> stop;  // stop strings: generation ends before them, their text is never sent
  std::vector<int32_t> stop_token_ids;  // further ids that end a choice with FinishReason::stop
  // Control tokens whose text the output shows (others show nothing): the
  // markers of the tool-call format the daemon reads back.
  std::vector<int32_t> shown_control_tokens;
  bool ignore_eos = false;        // keep going past end-of-generation tokens (benchmarks)
  // Structured output: every choice is a document of this grammar (tokens
  // that cannot continue one are masked; end-of-generation only when it is
  // complete; the choice ends with FinishReason::stop as soon as it is
  // complete and nothing may follow). Ignored with ignore_eos.
  engine::structured::GrammarPtr grammar;

  // Set by the trusted caller (from the API key once keys exist).
  std::string team = "default";
  double team_weight = 1.0;       // fair-share weight (> 0)
  Priority priority = Priority::interactive;
  std::string cache_salt;         // prefix-cache blocks are shared only between equal salts

  // Not none: an embedding request. The prompt is computed (prefill only,
  // n == 1, nothing sampled; it may fill the whole context) and the final
  // hidden states are pooled this way; its one event is `done` with finish
  // stop and `embedding` set (or abort / error). It takes its turn in the fair
  // share like any prompt, its tokens counted as prompt tokens. Sampling,
  // max_tokens and stop fields are ignored.
  engine::PoolingType embed = engine::PoolingType::none;

  EventSink on_event;             // required
};

}  // namespace llmd::scheduler
