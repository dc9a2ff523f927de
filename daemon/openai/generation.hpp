// One completion request in flight: submitted to its model's scheduler (one
// scheduler request per prompt), its tokens turned into the response.
//
// Threads. The scheduler's engine thread calls on_event() for every event; it
// formats stream chunks or accumulates the whole answer and hands bytes to the
// exchange, which only queues them (never blocks). The connection's I/O
// thread reports the end of the exchange: a client that went away, read too
// slowly (stream buffer overflow) or timed out gets its requests aborted, so
// their KV blocks are freed at the next engine step. The submitting thread
// (the admission callback) starts the stream once every prompt is accepted;
// events that arrive before that are held and sent right after the headers.
//
// Streamed text is written at most every plan.stream_interval: chunks made
// meanwhile wait in `unsent_` and go out with the next event's, as one write
// (the first text and the end are written at once). A request whose
// sequences stall (preempted for lack of KV blocks) sends what it holds when
// it resumes.
//
// Usage is settled on the admission once, when the last scheduler request is
// done: ok with the real counts, cancelled (charging what was produced) when
// the client went away, error when the engine failed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth/admission.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/http/router.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/openai/api_request.hpp"
#include "models/lease.hpp"
#include "daemon/openai/response_json.hpp"
#include "engine/chat/tool_call_stream.hpp"
#include "engine/chat/tool_calls.hpp"
#include "scheduler/request.hpp"

namespace llmd::openai {

// Everything the handler worked out, ready to submit.
struct GenerationPlan {
  const models::ModelInstance* model = nullptr;  // held by `lease`
  models::Lease lease;                            // the model stays resident while the request runs
  // Chat with tools: each answer is read whole for tool calls in this format
  // (streams send it at its end: text, then the tool calls, then the finish).
  engine::ToolCallFormat tool_format = engine::ToolCallFormat::none;
  bool parallel_tool_calls = true;
  ResponseMeta meta;
  bool stream = false;
  bool include_usage = false;
  bool logprobs = false;                      // report log-probabilities
  std::vector<std::vector<int32_t>> prompts;  // token ids, one scheduler request each
  std::vector<std::string> echo;              // completions with echo: the text each prompt's choices start with
  scheduler::GenerationRequest request;       // everything but prompt and on_event
  http::Headers headers;                      // added to the response (x-ratelimit-*)
  std::chrono::milliseconds stream_interval{0};  // streamed text is written at most this often
  metrics::Metrics* metrics = nullptr;           // the generation is recorded here when it ends; may be null
};

class Generation : public std::enable_shared_from_this<Generation> {
 public:
  // Submits every prompt. Refusals (queue full, context too long, shutting
  // down) are answered on `ex` and settled on `admission` as errors.
  static void start(http::ExchangePtr ex, GenerationPlan plan, auth::Admission admission);

  Generation(http::ExchangePtr ex, GenerationPlan plan, auth::Admission admission);
  ~Generation();

 private:
  struct Choice {
    std::string text;                                   // whole responses: the text so far
    std::vector<scheduler::GeneratedToken> tokens;      // whole responses with logprobs
    int64_t text_offset = 0;                            // completions logprobs: bytes of text so far
    scheduler::FinishReason finish = scheduler::FinishReason::none;
    std::unique_ptr<engine::ToolCallStream> tools;     // streamed tool requests
  };

  void submit_all();
  void on_event(size_t prompt, scheduler::StreamEvent&& ev);  // engine thread
  void on_exchange_done(http::Outcome outcome);               // I/O thread
  void stream_event(int32_t index, const scheduler::StreamEvent& ev, Choice& c);
  void collect_event(const scheduler::StreamEvent& ev, Choice& c);
  // The choice's answer split into text and tool calls (tool requests).
  void read_tool_calls(size_t index, std::string* text, std::vector<ToolCallOut>* calls) const;
  // The parsed calls with their response-unique ids.
  void name_tool_calls(size_t index, engine::ParsedOutput parsed, std::string* text,
                       std::vector<ToolCallOut>* calls) const;
  void finish_request();
  void send(std::string bytes, bool last);
  void abort_all();
  scheduler::Usage total_usage() const;
  void settle(storage::UsageStatus status, const scheduler::Usage& total);

  const http::ExchangePtr ex_;
  GenerationPlan plan_;
  auth::Admission admission_;
  ChunkWriter chunks_;
  LogprobWriter logprob_writer_;

  // Engine thread only (after submission); read by whoever finishes the request.
  std::vector<Choice> choices_;                 // prompts x n
  std::vector<scheduler::Usage> usage_;         // per prompt, latest
  bool engine_failed_ = false;
  bool shut_down_ = false;
  std::string error_message_;
  bool first_event_seen_ = false;
  bool first_token_seen_ = false;
  bool device_failed_ = false;  // the error ending it was the backend failing for good
  std::chrono::steady_clock::time_point submitted_at_;
  std::chrono::steady_clock::time_point first_event_at_;
  std::chrono::steady_clock::time_point first_token_at_;  // for the metrics' time to first token
  std::string unsent_;                                // stream bytes held for the next write
  std::chrono::steady_clock::time_point last_write_;  // of stream bytes

  // Scheduler requests not yet done (prompts never submitted are subtracted):
  // whoever brings it to 0 finishes the request.
  std::atomic<size_t> outstanding_{0};
  std::atomic<bool> cancelled_{false};  // the client is gone (or a submit failed): abort everything
  std::atomic<bool> begun_{false};      // the stream's headers are out; the engine writes directly
  bool answered_ = false;               // refused at submission: an error answer went out instead

  std::mutex mu_;                         // guards the members below
  std::vector<scheduler::RequestId> ids_;
  std::string early_;                     // stream bytes produced before the headers went out
  bool early_end_ = false;                // ... and the stream ended already
};

}  // namespace llmd::openai
