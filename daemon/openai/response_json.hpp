// The JSON of OpenAI responses and stream chunks, written by hand into
// strings (see json_text.hpp). Shapes follow the OpenAI API exactly:
//
//   chat.completion        {"id","object","created","model","system_fingerprint",
//                           "choices":[{"index","message":{"role","content","refusal","tool_calls"?},"logprobs","finish_reason"}],
//                           "usage":{...}}
//   chat.completion.chunk  {..., "choices":[{"index","delta":{...},"logprobs","finish_reason"}]}
//                           (+ "usage":null on every chunk when stream_options.include_usage, and a last
//                           chunk with "choices":[] and the usage)
//   text_completion        {..., "choices":[{"text","index","logprobs","finish_reason"}], "usage"}
//                           (the same object streams, one per chunk)
//
// Stream chunks come out as complete server-sent events ("data: {...}\n\n").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/openai/api_request.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "scheduler/request.hpp"

namespace llmd::openai {

struct ResponseMeta {
  Endpoint endpoint = Endpoint::chat;
  std::string id;           // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;      // Unix seconds
  std::string model;
  std::string fingerprint;  // system_fingerprint
};

// "stop" (a stop string or end of generation), "length", or "" while unfinished.
std::string_view finish_reason_name(scheduler::FinishReason r);

// {"prompt_tokens":..,"completion_tokens":..,"total_tokens":..,"prompt_tokens_details":{"cached_tokens":..}}
void append_usage(std::string& out, const scheduler::Usage& usage);

// Log-probabilities of generated tokens, for one choice.
class LogprobWriter {
 public:
  explicit LogprobWriter(const engine::Tokenizer& tok) : tok_(tok) {}
  // Chat: the entries of "logprobs":{"content":[...]} (without the brackets),
  // each {"token","logprob","bytes","top_logprobs":[...]}.
  void chat_entries(std::string& out, std::span<const scheduler::GeneratedToken> tokens, bool first) const;
  // Completions: {"tokens":[..],"token_logprobs":[..],"top_logprobs":[{..}],"text_offset":[..]};
  // offsets count bytes from `offset`, which advances past each token.
  void completion_object(std::string& out, std::span<const scheduler::GeneratedToken> tokens, int64_t* offset) const;

  // What a token contributes to text (control tokens: their vocabulary text).
  std::string_view text(int32_t id, std::string* scratch) const;

 private:
  const engine::Tokenizer& tok_;
};

// One tool call of an answer: "call_..." id, function name, arguments (JSON text).
struct ToolCallOut {
  std::string id;
  std::string name;
  std::string arguments;
};

// "tool_calls":[{"id","type":"function","function":{"name","arguments"}}...]
// (with "index" on each for stream deltas).
void append_tool_calls(std::string& out, std::span<const ToolCallOut> calls, bool with_index);

// Stream chunks. `head` is chunk_head(meta); each call appends one event.
class ChunkWriter {
 public:
  ChunkWriter(const ResponseMeta& meta, bool include_usage);

  // chat: {"role":"assistant","content":""}
  void role(std::string& out, int32_t index) const;
  // New text (and its tokens' log-probabilities, when asked for).
  void text(std::string& out, int32_t index, std::string_view text, const std::string* logprobs) const;
  // chat: a delta with the choice's tool calls.
  void tool_calls(std::string& out, int32_t index, std::span<const ToolCallOut> calls) const;
  // The choice's last chunk: empty delta / empty text, and its finish_reason.
  void finish(std::string& out, int32_t index, std::string_view reason) const;
  // include_usage: "choices":[] and the usage.
  void usage(std::string& out, const scheduler::Usage& usage) const;
  // An error in the middle of a stream: data: {"error":{...}}.
  static void error(std::string& out, std::string_view message, std::string_view type);

  static constexpr std::string_view kDone = "data: [DONE]\n\n";

 private:
  void close(std::string& out) const;  // ends the event after the choices array

  Endpoint endpoint_;
  bool include_usage_;
  std::string head_;  // data: {"id":...,"choices":[
};

// One finished choice of a whole (non-streamed) response.
struct ChoiceResult {
  std::string text;  // chat with tool calls and no text: content null
  std::string_view finish_reason;
  std::string logprobs;  // the JSON of the choice's "logprobs" value; empty: null
  std::vector<ToolCallOut> tool_calls;  // chat
};

std::string whole_response(const ResponseMeta& meta, std::span<const ChoiceResult> choices,
                           const scheduler::Usage& usage);

}  // namespace llmd::openai
