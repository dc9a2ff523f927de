#include "daemon/openai/response_json.hpp"

#include "daemon/openai/json_text.hpp"

namespace llmd::openai {
namespace {

std::string_view object_name(Endpoint e, bool chunk) {
  if (e == Endpoint::completions) return "text_completion";
  return chunk ? "chat.completion.chunk" : "chat.completion";
}

// {"id":..,"object":..,"created":..,"model":..,"system_fingerprint":..,"choices":[
void append_head(std::string& out, const ResponseMeta& m, bool chunk) {
  out += "{\"id\":";
  append_json_string(out, m.id);
  out += ",\"object\":\"";
  out += object_name(m.endpoint, chunk);
  out += "\",\"created\":";
  append_json_int(out, m.created);
  out += ",\"model\":";
  append_json_string(out, m.model);
  out += ",\"system_fingerprint\":";
  append_json_string(out, m.fingerprint);
  out += ",\"choices\":[";
}

}  // namespace

std::string_view finish_reason_name(scheduler::FinishReason r) {
  switch (r) {
    case scheduler::FinishReason::stop:
    case scheduler::FinishReason::eos: return "stop";
    case scheduler::FinishReason::length: return "length";
    default: return "";
  }
}

void append_usage(std::string& out, const scheduler::Usage& u) {
  out += "{\"prompt_tokens\":";
  append_json_int(out, u.prompt_tokens);
  out += ",\"completion_tokens\":";
  append_json_int(out, u.completion_tokens);
  out += ",\"total_tokens\":";
  append_json_int(out, static_cast<int64_t>(u.prompt_tokens) + u.completion_tokens);
  out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
  append_json_int(out, u.cached_tokens);
  out += "}}";
}

std::string_view LogprobWriter::text(int32_t id, std::string* scratch) const {
  if (tok_.is_control(id)) {
    *scratch = tok_.token_text(id);
    return *scratch;
  }
  return tok_.token_piece(id);
}

void LogprobWriter::chat_entries(std::string& out, std::span<const scheduler::GeneratedToken> tokens,
                                 bool first) const {
  std::string scratch;
  for (const auto& t : tokens) {
    if (!first) out += ',';
    first = false;
    std::string_view s = text(t.id, &scratch);
    out += "{\"token\":";
    append_json_string(out, s);
    out += ",\"logprob\":";
    append_logprob(out, t.logprob);
    out += ",\"bytes\":";
    append_json_bytes(out, s);
    out += ",\"top_logprobs\":[";
    for (size_t i = 0; i < t.top_logprobs.size(); ++i) {
      if (i) out += ',';
      std::string_view a = text(t.top_logprobs[i].id, &scratch);
      out += "{\"token\":";
      append_json_string(out, a);
      out += ",\"logprob\":";
      append_logprob(out, t.top_logprobs[i].logprob);
      out += ",\"bytes\":";
      append_json_bytes(out, a);
      out += '}';
    }
    out += "]}";
  }
}

void LogprobWriter::completion_object(std::string& out, std::span<const scheduler::GeneratedToken> tokens,
                                      int64_t* offset) const {
  std::string scratch;
  out += "{\"tokens\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, text(tokens[i].id, &scratch));
  }
  out += "],\"token_logprobs\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    append_logprob(out, tokens[i].logprob);
  }
  out += "],\"top_logprobs\":[";
  std::vector<std::string> seen;  // a JSON object must not repeat a key
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    out += '{';
    seen.clear();
    for (const auto& alt : tokens[i].top_logprobs) {
      std::string key;
      append_json_string(key, text(alt.id, &scratch));
      bool repeated = false;
      for (const auto& s : seen) repeated = repeated || s == key;
      if (repeated) continue;
      if (!seen.empty()) out += ',';
      out += key;
      out += ':';
      append_logprob(out, alt.logprob);
      seen.push_back(std::move(key));
    }
    out += '}';
  }
  out += "],\"text_offset\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    append_json_int(out, *offset);
    if (!tok_.is_control(tokens[i].id)) *offset += static_cast<int64_t>(tok_.token_piece(tokens[i].id).size());
  }
  out += "]}";
}

ChunkWriter::ChunkWriter(const ResponseMeta& meta, bool include_usage)
    : endpoint_(meta.endpoint), include_usage_(include_usage) {
  head_ = "data: ";
  append_head(head_, meta, true);
}

void ChunkWriter::close(std::string& out) const {
  out += include_usage_ ? "],\"usage\":null}\n\n" : "]}\n\n";
}

void ChunkWriter::role(std::string& out, int32_t index) const {
  out += head_;
  out += "{\"index\":";
  append_json_int(out, index);
  out += ",\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}";
  close(out);
}

void ChunkWriter::text(std::string& out, int32_t index, std::string_view text, const std::string* logprobs) const {
  out += head_;
  if (endpoint_ == Endpoint::chat) {
    out += "{\"index\":";
    append_json_int(out, index);
    out += ",\"delta\":{\"content\":";
    append_json_string(out, text);
    out += "},\"logprobs\":";
    if (logprobs) {
      out += "{\"content\":[";
      out += *logprobs;
      out += "],\"refusal\":null}";
    } else {
      out += "null";
    }
  } else {
    out += "{\"text\":";
    append_json_string(out, text);
    out += ",\"index\":";
    append_json_int(out, index);
    out += ",\"logprobs\":";
    out += logprobs ? std::string_view(*logprobs) : std::string_view("null");
  }
  out += ",\"finish_reason\":null}";
  close(out);
}

void append_tool_calls(std::string& out, std::span<const ToolCallOut> calls, bool with_index) {
  out += "\"tool_calls\":[";
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i) out += ',';
    out += '{';
    if (with_index) {
      out += "\"index\":";
      append_json_int(out, static_cast<int64_t>(i));
      out += ',';
    }
    out += "\"id\":";
    append_json_string(out, calls[i].id);
    out += ",\"type\":\"function\",\"function\":{\"name\":";
    append_json_string(out, calls[i].name);
    out += ",\"arguments\":";
    append_json_string(out, calls[i].arguments);
    out += "}}";
  }
  out += ']';
}

void ChunkWriter::tool_calls(std::string& out, int32_t index, std::span<const ToolCallOut> calls) const {
  out += head_;
  out += "{\"index\":";
  append_json_int(out, index);
  out += ",\"delta\":{";
  append_tool_calls(out, calls, true);
  out += "},\"logprobs\":null,\"finish_reason\":null}";
  close(out);
}

void ChunkWriter::finish(std::string& out, int32_t index, std::string_view reason) const {
  out += head_;
  if (endpoint_ == Endpoint::chat) {
    out += "{\"index\":";
    append_json_int(out, index);
    out += ",\"delta\":{},\"logprobs\":null";
  } else {
    out += "{\"text\":\"\",\"index\":";
    append_json_int(out, index);
    out += ",\"logprobs\":null";
  }
  out += ",\"finish_reason\":";
  append_json_string(out, reason);
  out += '}';
  close(out);
}

void ChunkWriter::usage(std::string& out, const scheduler::Usage& u) const {
  out += head_;
  out += "],\"usage\":";
  append_usage(out, u);
  out += "}\n\n";
}

void ChunkWriter::error(std::string& out, std::string_view message, std::string_view type) {
  out += "data: {\"error\":{\"message\":";
  append_json_string(out, message);
  out += ",\"type\":";
  append_json_string(out, type);
  out += ",\"param\":null,\"code\":null}}\n\n";
}

std::string whole_response(const ResponseMeta& meta, std::span<const ChoiceResult> choices,
                           const scheduler::Usage& usage) {
  std::string out;
  size_t size = 256;
  for (const auto& c : choices) size += c.text.size() + c.logprobs.size() + 96;
  out.reserve(size);
  append_head(out, meta, false);
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    if (i) out += ',';
    if (meta.endpoint == Endpoint::chat) {
      out += "{\"index\":";
      append_json_int(out, static_cast<int64_t>(i));
      out += ",\"message\":{\"role\":\"assistant\",\"content\":";
      if (c.text.empty() && !c.tool_calls.empty()) {
        out += "null";
      } else {
        append_json_string(out, c.text);
      }
      out += ",\"refusal\":null";
      if (!c.tool_calls.empty()) {
        out += ',';
        append_tool_calls(out, c.tool_calls, false);
      }
      out += "},\"logprobs\":";
    } else {
      out += "{\"text\":";
      append_json_string(out, c.text);
      out += ",\"index\":";
      append_json_int(out, static_cast<int64_t>(i));
      out += ",\"logprobs\":";
    }
    out += c.logprobs.empty() ? std::string_view("null") : std::string_view(c.logprobs);
    out += ",\"finish_reason\":";
    append_json_string(out, c.finish_reason);
    out += '}';
  }
  out += "],\"usage\":";
  append_usage(out, usage);
  out += '}';
  return out;
}

}  // namespace llmd::openai
