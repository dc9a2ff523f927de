// GET /admin/v1/stats: a snapshot of every model's scheduler counters (KV
// blocks, prefix cache, requests, batches, per-team service, share and
// preemptions) and of every device's arbiter (device time per team) as
// JSON, the same numbers a metrics exporter publishes.
#include "daemon/http/exchange.hpp"
#include "daemon/openai/json_text.hpp"
#include "daemon/openai/routes.hpp"

namespace llmd::openai {
namespace {

void field(std::string& out, std::string_view name, int64_t v, bool first = false) {
  if (!first) out += ',';
  append_json_string(out, name);
  out += ':';
  append_json_int(out, v);
}

void append_stats(std::string& out, const models::ModelStats& m) {
  const scheduler::SchedulerStats& s = m.scheduler;
  out += "{\"id\":";
  append_json_string(out, m.id);
  out += ",\"device\":";
  append_json_string(out, m.device);
  out += ",\"kv_cache\":{";
  field(out, "block_size", s.kv_block_size, true);
  field(out, "blocks_total", s.kv_blocks_total);
  field(out, "blocks_used", s.kv_blocks_used);
  field(out, "blocks_cached", s.kv_blocks_cached);
  field(out, "blocks_evictable", s.kv_blocks_evictable);
  field(out, "evictions", static_cast<int64_t>(s.kv_evictions));
  field(out, "prefix_hit_tokens", static_cast<int64_t>(s.prefix_hit_tokens));
  field(out, "prefix_query_tokens", static_cast<int64_t>(s.prefix_query_tokens));
  out += "},\"requests\":{";
  field(out, "submitted", static_cast<int64_t>(s.requests_submitted), true);
  field(out, "rejected", static_cast<int64_t>(s.requests_rejected));
  field(out, "finished", static_cast<int64_t>(s.requests_finished));
  field(out, "aborted", static_cast<int64_t>(s.requests_aborted));
  field(out, "waiting", s.waiting);
  field(out, "running", s.running);
  out += "},\"engine\":{";
  field(out, "steps", static_cast<int64_t>(s.steps), true);
  field(out, "tokens_processed", static_cast<int64_t>(s.tokens_processed));
  field(out, "preemptions", static_cast<int64_t>(s.preemptions));
  field(out, "share_preemptions", static_cast<int64_t>(s.share_preemptions));
  field(out, "last_batch_seqs", s.last_batch_seqs);
  field(out, "last_batch_tokens", s.last_batch_tokens);
  out += ",\"avg_batch_seqs\":";
  append_json_float(out, static_cast<float>(s.avg_batch_seqs()));
  out += ",\"batch_seqs_histogram\":[";
  for (size_t i = 0; i < s.batch_seqs_histogram.size(); ++i) {
    if (i) out += ',';
    append_json_int(out, static_cast<int64_t>(s.batch_seqs_histogram[i]));
  }
  out += "]},\"teams\":[";
  uint64_t all_tokens = 0;
  for (const scheduler::TeamCounters& t : s.teams) all_tokens += t.prompt_tokens + t.completion_tokens;
  for (size_t i = 0; i < s.teams.size(); ++i) {
    const scheduler::TeamCounters& t = s.teams[i];
    if (i) out += ',';
    out += "{\"team\":";
    append_json_string(out, t.team);
    out += ",\"weight\":";
    append_json_float(out, static_cast<float>(t.weight));
    out += ",\"service\":";
    append_json_float(out, static_cast<float>(t.service));
    field(out, "prompt_tokens", static_cast<int64_t>(t.prompt_tokens));
    field(out, "completion_tokens", static_cast<int64_t>(t.completion_tokens));
    field(out, "batch_tokens", static_cast<int64_t>(t.batch_tokens));
    out += ",\"share\":";  // of the tokens this model processed
    append_json_float(out, all_tokens == 0 ? 0.0f
                                           : static_cast<float>(static_cast<double>(t.prompt_tokens + t.completion_tokens) /
                                                                static_cast<double>(all_tokens)));
    field(out, "preemptions", static_cast<int64_t>(t.preemptions));
    field(out, "share_preemptions", static_cast<int64_t>(t.fair_preemptions));
    field(out, "waiting", t.waiting);
    field(out, "running", t.running);
    out += '}';
  }
  out += "]}";
}

void append_device(std::string& out, const scheduler::DeviceArbiterStats& d) {
  out += "{\"id\":";
  append_json_string(out, d.device);
  field(out, "turns", static_cast<int64_t>(d.turns));
  field(out, "contended_turns", static_cast<int64_t>(d.contended));
  field(out, "handovers", static_cast<int64_t>(d.handovers));
  out += ",\"busy_seconds\":";
  append_json_float(out, static_cast<float>(d.busy_seconds));
  out += ",\"teams\":[";
  double total = 0;
  for (const auto& t : d.teams) total += t.device_seconds;
  for (size_t i = 0; i < d.teams.size(); ++i) {
    const scheduler::DeviceTeamCounters& t = d.teams[i];
    if (i) out += ',';
    out += "{\"team\":";
    append_json_string(out, t.team);
    out += ",\"weight\":";
    append_json_float(out, static_cast<float>(t.weight));
    out += ",\"device_seconds\":";
    append_json_float(out, static_cast<float>(t.device_seconds));
    out += ",\"service\":";
    append_json_float(out, static_cast<float>(t.service));
    out += ",\"share\":";  // of the device time charged to teams
    append_json_float(out, total == 0 ? 0.0f : static_cast<float>(t.device_seconds / total));
    out += '}';
  }
  out += "]}";
}

}  // namespace

void handle_stats(const ApiContext& ctx, const http::ExchangePtr& ex) {
  std::string out = "{\"models\":[";
  bool first = true;
  for (const models::ModelStats& m : ctx.models->stats()) {
    if (!first) out += ',';
    first = false;
    append_stats(out, m);
  }
  out += "],\"devices\":[";
  first = true;
  for (const models::DeviceView& d : ctx.models->devices()) {
    if (!d.device.arbiter) continue;
    if (!first) out += ',';
    first = false;
    append_device(out, d.device.arbiter->stats());
  }
  out += "]}";
  ex->respond(http::Response::json(200, std::move(out)));
}

}  // namespace llmd::openai
