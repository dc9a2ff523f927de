// parse_completion_request: the body of /v1/chat/completions or
// /v1/completions into a CompletionRequest.
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

#include "daemon/openai/api_request.hpp"
#include "daemon/openai/request_fields.hpp"
#include "daemon/openai/request_parts.hpp"
#include "daemon/openai/request_structured.hpp"
#include "daemon/openai/request_tools.hpp"
#include "daemon/openai/unimplemented_fields.hpp"

namespace llmd::openai {
namespace {

constexpr int64_t kMaxInt32 = INT32_MAX;

std::optional<ApiError> parse_sampling(const RequestFields& f, CompletionRequest* r) {
  engine::SamplingParams& sp = r->sampling;
  if (auto e = f.get_float("temperature", 0.0, engine::kMaxTemperature, sp.temperature)) return e;
  if (auto e = f.get_float("top_p", 0.0, 1.0, sp.top_p)) return e;
  // top_p = 0 keeps only the most likely token (the smallest positive nucleus).
  if (sp.top_p == 0.0f) sp.top_p = 1e-9f;
  if (auto e = f.get_float("presence_penalty", -2.0, 2.0, sp.presence_penalty)) return e;
  if (auto e = f.get_float("frequency_penalty", -2.0, 2.0, sp.frequency_penalty)) return e;
  // Extensions many OpenAI-compatible servers accept.
  int64_t top_k = 0;
  if (auto e = f.get_int("top_k", -1, kMaxInt32, top_k)) return e;
  sp.top_k = top_k < 0 ? 0 : static_cast<int32_t>(top_k);
  if (auto e = f.get_float("min_p", 0.0, 1.0, sp.min_p)) return e;
  if (auto e = f.get_float("repetition_penalty", 0.01, engine::kMaxRepetitionPenalty, sp.repetition_penalty)) return e;

  std::optional<int64_t> seed;
  if (auto e = f.get_int("seed", INT64_MIN, INT64_MAX, seed)) return e;
  if (seed) sp.seed = static_cast<uint64_t>(*seed);
  if (const boost::json::value* v = f.find("logit_bias")) {
    if (auto e = detail::parse_logit_bias(*v, &r->logit_bias)) return e;
  }
  return std::nullopt;
}

std::optional<ApiError> parse_logprobs(const RequestFields& f, CompletionRequest* r) {
  if (r->endpoint == Endpoint::chat) {
    if (auto e = f.get_bool("logprobs", r->logprobs)) return e;
    int64_t top = 0;
    if (auto e = f.get_int("top_logprobs", 0, engine::kMaxTopLogprobs, top)) return e;
    if (f.find("top_logprobs") && !r->logprobs) {
      return ApiError{400, "'top_logprobs' requires 'logprobs' to be true.", "invalid_value", "top_logprobs"};
    }
    r->top_logprobs = static_cast<int32_t>(top);
  } else {
    // Completions: "logprobs" is the number of alternatives (0 = just the sampled token).
    std::optional<int64_t> n;
    if (auto e = f.get_int("logprobs", 0, engine::kMaxTopLogprobs, n)) return e;
    if (n) {
      r->logprobs = true;
      r->top_logprobs = static_cast<int32_t>(*n);
    }
  }
  r->sampling.logprobs = r->logprobs;
  r->sampling.n_logprobs = r->top_logprobs;
  return std::nullopt;
}

std::optional<ApiError> parse_known_fields(const boost::json::object& obj, const RequestFields& f, CompletionRequest* r);

// tools, tool_choice, parallel_tool_calls (chat).
std::optional<ApiError> parse_tool_fields(const RequestFields& f, CompletionRequest* r) {
  engine::jinja::Value tools;
  if (const boost::json::value* v = f.find("tools")) {
    if (auto e = detail::parse_tools(*v, &tools, &r->tool_schemas)) return e;
  }
  if (const boost::json::value* v = f.find("tool_choice")) {
    if (auto e = detail::parse_tool_choice(*v, &r->tool_choice, &r->tool_choice_name)) return e;
  }
  if (auto e = f.get_bool("parallel_tool_calls", r->parallel_tool_calls)) return e;
  const bool have_tools = !tools.is_undefined() && !tools.list().empty();
  if (r->tool_choice == ToolChoice::required || r->tool_choice == ToolChoice::named) {
    if (!have_tools) {
      return invalid_param("tool_choice", "'tool_choice' forces a tool call, but the request offers no 'tools'.");
    }
    if (r->tool_choice == ToolChoice::named) {
      bool found = false;
      for (const auto& t : r->tool_schemas) found = found || t.name == r->tool_choice_name;
      if (!found) {
        return invalid_param("tool_choice.function.name",
                             "'tool_choice' names the function '" + r->tool_choice_name + "', which is not among 'tools'.");
      }
    }
  }
  if (r->tool_choice != ToolChoice::none && have_tools) r->tools = std::move(tools);
  if (const boost::json::value* v = f.find("response_format")) {
    if (auto e = detail::parse_response_format(*v, &r->response_grammar)) return e;
    if (r->response_grammar && (r->tool_choice == ToolChoice::required || r->tool_choice == ToolChoice::named)) {
      return invalid_param("response_format",
                           "'response_format' cannot be combined with a forced tool call ('tool_choice').");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> parse_fields(const boost::json::object& obj, CompletionRequest* r) {
  RequestFields f(obj);
  if (auto e = parse_known_fields(obj, f, r)) return e;
  // A field the parser did not read is one llmd does not implement.
  return refuse_unimplemented_fields(obj, f);
}

// Reads every field llmd acts on (through `f`, which remembers them).
std::optional<ApiError> parse_known_fields(const boost::json::object& obj, const RequestFields& f, CompletionRequest* r) {
  f.mark_read("model");
  const boost::json::value* model = obj.if_contains("model");
  if (!model || model->is_null()) return ApiError{400, "Missing required parameter: 'model'.", "missing_required_parameter", "model"};
  if (!model->is_string()) return wrong_type("model", "a string", *model);
  r->model = std::string(model->get_string());

  if (r->endpoint == Endpoint::chat) {
    f.mark_read("messages");
    const boost::json::value* messages = obj.if_contains("messages");
    if (!messages || messages->is_null()) {
      return ApiError{400, "Missing required parameter: 'messages'.", "missing_required_parameter", "messages"};
    }
    if (auto e = detail::parse_messages(*messages, &r->messages, &r->template_messages, &r->tool_messages)) return e;
    if (auto e = parse_tool_fields(f, r)) return e;
  } else {
    f.mark_read("prompt");
    const boost::json::value* prompt = obj.if_contains("prompt");
    if (!prompt || prompt->is_null()) {
      return ApiError{400, "Missing required parameter: 'prompt'.", "missing_required_parameter", "prompt"};
    }
    if (auto e = detail::parse_prompt_inputs(*prompt, "prompt", "prompts", kMaxPrompts, &r->prompts)) return e;
    if (auto e = f.get_bool("echo", r->echo)) return e;
  }

  if (auto e = f.get_int("max_tokens", 1, kMaxInt32, r->max_tokens)) return e;
  if (r->endpoint == Endpoint::chat) {
    if (auto e = f.get_int("max_completion_tokens", 1, kMaxInt32, r->max_tokens)) return e;
  }
  int64_t n = 1;
  if (auto e = f.get_int("n", 1, kMaxInt32, n)) return e;  // the model's own bound is checked later
  r->n = static_cast<int32_t>(n);
  if (const boost::json::value* v = f.find("stop")) {
    if (auto e = detail::parse_stop(*v, &r->stop)) return e;
  }
  if (auto e = parse_sampling(f, r)) return e;
  if (auto e = parse_logprobs(f, r)) return e;

  if (auto e = f.get_bool("stream", r->stream)) return e;
  if (const boost::json::value* so = f.find("stream_options")) {
    if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
    RequestFields opts(so->get_object());
    bool usage = false;
    if (auto e = opts.get_bool("include_usage", usage)) {
      e->param = "stream_options.include_usage";
      return e;
    }
    r->include_usage = usage && r->stream;
  }
  std::string user;
  if (auto e = f.get_string("user", user)) return e;
  if (auto e = f.get_bool("ignore_eos", r->ignore_eos)) return e;
  std::string priority;
  if (auto e = f.get_string("priority", priority)) return e;
  if (!priority.empty()) {
    scheduler::Priority p;
    if (!scheduler::parse_priority(priority, &p)) {
      return ApiError{400, "'priority' must be \"interactive\" or \"batch\", not \"" + priority + "\".",
                      "invalid_value", "priority"};
    }
    r->priority = p;
  }
  // OpenAI's own spelling of the same choice: "flex" trades latency for
  // capacity, which is what batch work here does.
  std::string tier;
  if (auto e = f.get_string("service_tier", tier)) return e;
  if (tier == "flex") {
    if (!r->priority) r->priority = scheduler::Priority::batch;
  } else if (!tier.empty() && tier != "auto" && tier != "default") {
    return ApiError{400, "'service_tier' must be \"auto\", \"default\" or \"flex\", not \"" + tier + "\".",
                    "invalid_value", "service_tier"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_completion_request(Endpoint endpoint, std::string_view body, CompletionRequest* out) {
  boost::json::value doc;
  if (auto e = parse_json_object_body(body, &doc)) return e;
  out->endpoint = endpoint;
  return parse_fields(doc.get_object(), out);
}

}  // namespace llmd::openai
