// POST /v1/chat/completions and POST /v1/completions: parse and validate,
// resolve the model and take a lease on it (loading it when needed), build
// the prompt tokens, check them against the context, admit (limits and
// budgets), then hand the request to a Generation.
#include <atomic>
#include <chrono>
#include <thread>

#include "daemon/access/access.hpp"
#include "daemon/http/error_status.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/http/sse_stream.hpp"
#include "daemon/http/request_id.hpp"
#include "daemon/openai/generation.hpp"
#include "daemon/openai/model_request_front.hpp"
#include "daemon/openai/routes.hpp"
#include "engine/chat/jinja_chat_template.hpp"
#include "engine/chat/prompt_tokens.hpp"

namespace llmd::openai {
namespace {

void respond(http::Exchange& ex, const ApiError& e) { ex.respond_error(e.status, e.message, e.code, e.param); }

ApiError context_error(std::string message, std::string_view param) {
  return ApiError{400, std::move(message), "context_length_exceeded", std::string(param)};
}

// tool_choice "required" or a named function: the answer is constrained to
// tool calls in the template's format.
std::optional<ApiError> force_tool_call(const CompletionRequest& req, GenerationPlan* plan) {
  std::vector<size_t> indices;
  for (size_t i = 0; i < req.tool_schemas.size(); ++i) {
    if (req.tool_choice == ToolChoice::required || req.tool_schemas[i].name == req.tool_choice_name) indices.push_back(i);
  }
  const int32_t max_calls = req.parallel_tool_calls ? engine::structured::kMaxForcedCalls : 1;
  Result<engine::structured::GrammarPtr> g =
      engine::structured::tool_call_grammar(plan->tool_format, req.tool_schemas, indices, max_calls);
  if (!g) {
    const Error& e = g.error();
    const std::string param = e.message.rfind("'tools[", 0) == 0 ? e.message.substr(1, e.message.find('\'', 1) - 1) : "tools";
    if (e.code == ErrorCode::unsupported) return ApiError{400, "Unsupported schema: " + e.message, "unsupported_parameter", param};
    return ApiError{400, "Invalid schema: " + e.message, "invalid_value", param};
  }
  plan->request.grammar = std::move(*g);
  return std::nullopt;
}

// The prompts as token ids (and, for echo, as text).
std::optional<ApiError> build_prompts(const models::ModelInstance& m, CompletionRequest& req, GenerationPlan* plan) {
  const engine::Tokenizer& tok = *m.tokenizer;
  if (req.endpoint == Endpoint::chat) {
    const bool tools = !req.tools.is_undefined();
    Result<engine::RenderedPrompt> rendered = engine::RenderedPrompt{};
    if (tools || req.tool_messages) {
      // Tools and tool results go to the model's own (Jinja) template.
      const auto* jt = dynamic_cast<const engine::JinjaChatTemplate*>(m.chat_template.get());
      const std::string param = tools ? "tools" : "messages";
      if (!jt) {
        return ApiError{400, "Model '" + m.id + "' has no Jinja chat template, so it cannot take tools or tool messages.",
                        "unsupported_parameter", param};
      }
      if (tools && jt->tool_format() == engine::ToolCallFormat::none) {
        return ApiError{400, "The chat template of model '" + m.id + "' writes tool calls in a format llmd does not "
                             "read (it reads Hermes/Qwen <tool_call>, Mistral [TOOL_CALLS], Llama 3 JSON, "
                             "firefunction, functionary v3.1/v3.2, Command R/R+/R7B and DeepSeek R1 calls).",
                        "unsupported_parameter", "tools"};
      }
      if (tools && req.logprobs) {
        return ApiError{400, "'logprobs' cannot be combined with 'tools' yet.", "unsupported_parameter", "logprobs"};
      }
      rendered = jt->render_values(req.template_messages, req.tools, /*add_generation_prompt=*/true);
      if (tools) {
        plan->tool_format = jt->tool_format();
        // The format's markers may be control tokens, which output does not
        // show: the call parser has to see them.
        for (std::string_view marker : engine::tool_call_markers(plan->tool_format)) {
          const int32_t id = tok.vocab().find(marker);
          if (id >= 0 && tok.is_control(id)) plan->request.shown_control_tokens.push_back(id);
        }
      }
      plan->parallel_tool_calls = req.parallel_tool_calls;
      if (tools && (req.tool_choice == ToolChoice::required || req.tool_choice == ToolChoice::named)) {
        if (auto e = force_tool_call(req, plan)) return e;
      }
    } else {
      rendered = m.chat_template->render_prompt(req.messages, /*add_generation_prompt=*/true);
    }
    // The template refused the conversation (raise_exception, a type error)
    // or exceeded a render bound; the message names the template.
    if (!rendered) {
      return ApiError{400, rendered.error().message, std::string(to_string(rendered.error().code)), "messages"};
    }
    plan->prompts.push_back(engine::tokenize_prompt(tok, *rendered));
    if (plan->prompts.back().empty()) return ApiError{400, "The messages render to an empty prompt.", "invalid_value", "messages"};
    return std::nullopt;
  }
  for (size_t i = 0; i < req.prompts.size(); ++i) {
    PromptInput& p = req.prompts[i];
    const std::string param = req.prompts.size() == 1 ? "prompt" : "prompt[" + std::to_string(i) + "]";
    std::vector<int32_t> ids;
    if (p.is_ids) {
      ids.reserve(p.ids.size());
      for (int64_t id : p.ids) {
        if (id >= m.n_vocab) {
          return ApiError{400,
                          "Token id " + std::to_string(id) + " is outside the vocabulary of model '" + m.id + "' (0.." +
                              std::to_string(m.n_vocab - 1) + ").",
                          "invalid_value", param};
        }
        ids.push_back(static_cast<int32_t>(id));
      }
      if (req.echo) plan->echo.push_back(tok.decode(ids, {.render_special = false, .strip_leading_space = true}));
    } else {
      // The whole prompt is the caller's own text: special-token text in it
      // ("<|im_start|>") is read as those tokens, as a raw prompt intends.
      ids = tok.encode(p.text, /*add_special=*/true, /*parse_special=*/true);
      if (req.echo) plan->echo.push_back(std::move(p.text));
    }
    if (ids.empty()) return ApiError{400, "'" + param + "' encodes to no tokens.", "invalid_value", param};
    plan->prompts.push_back(std::move(ids));
  }
  return std::nullopt;
}

// Model-dependent checks, and the scheduler request without its prompt.
std::optional<ApiError> build_request(const models::ModelInstance& m, const CompletionRequest& req, GenerationPlan* plan,
                                      int64_t* reserve_tokens) {
  if (req.n > m.max_choices) {
    return ApiError{400,
                    "Invalid 'n': this server allows at most " + std::to_string(m.max_choices) + " choices for model '" +
                        m.id + "' (got " + std::to_string(req.n) + ").",
                    "invalid_value", "n"};
  }
  scheduler::GenerationRequest& r = plan->request;
  r.sampling = req.sampling;
  for (const auto& [id, bias] : req.logit_bias) {
    if (id >= m.n_vocab) {
      return ApiError{400,
                      "Invalid 'logit_bias': token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                          std::to_string(m.n_vocab - 1) + ").",
                      "invalid_value", "logit_bias"};
    }
    r.sampling.logit_bias.emplace_back(static_cast<int32_t>(id), bias);
  }
  if (Status st = engine::validate(r.sampling, m.n_vocab); !st) {
    const std::string& msg = st.error().message;
    return ApiError{400, msg, "invalid_value", msg.substr(0, msg.find(' '))};
  }
  r.n = req.n;
  r.stop = req.stop;
  r.ignore_eos = req.ignore_eos;
  if (req.response_grammar) r.grammar = req.response_grammar;
  if (r.grammar && r.ignore_eos) {
    return ApiError{400, "'ignore_eos' cannot be combined with structured output.", "invalid_value", "ignore_eos"};
  }

  const std::string_view prompt_param = req.endpoint == Endpoint::chat ? "messages" : "prompt";
  int64_t longest = 0;
  for (const auto& p : plan->prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  if (longest >= m.max_context) {
    return context_error("This model's maximum context length is " + std::to_string(m.max_context) +
                             " tokens, but the prompt has " + std::to_string(longest) +
                             " tokens (at least one more is needed for the completion).",
                         prompt_param);
  }
  int64_t max_tokens = 0;  // 0: until the context limit
  if (req.max_tokens) {
    max_tokens = *req.max_tokens;
  } else if (req.endpoint == Endpoint::completions) {
    max_tokens = kDefaultCompletionMaxTokens;
  }
  if (max_tokens > 0 && longest + max_tokens > m.max_context) {
    if (!req.max_tokens) {
      max_tokens = m.max_context - longest;  // only the completions default: shorten it
    } else {
      return context_error("This model's maximum context length is " + std::to_string(m.max_context) +
                               " tokens. However, you requested " + std::to_string(longest + max_tokens) +
                               " tokens (" + std::to_string(longest) + " in the prompt, " +
                               std::to_string(max_tokens) + " for the completion). Please reduce the prompt or " +
                               "the completion length.",
                           "max_tokens");
    }
  }
  r.max_tokens = static_cast<int32_t>(max_tokens);
  // The most the request may produce, reserved against the budgets.
  int64_t per_choice_budget = 0;
  for (const auto& p : plan->prompts) {
    per_choice_budget += max_tokens > 0 ? max_tokens : m.max_context - static_cast<int64_t>(p.size());
  }
  *reserve_tokens = per_choice_budget * req.n;
  return std::nullopt;
}

std::string completion_id(Endpoint e) {
  std::string rid = http::new_request_id();  // "req_" + 16 hex digits
  return (e == Endpoint::chat ? "chatcmpl-" : "cmpl-") + rid.substr(rid.find('_') + 1);
}

// The rest of a completion once its model is resident: prompts, checks,
// admission, then the Generation. Runs on a worker thread.
void continue_completion(const ApiContext& ctx, Endpoint endpoint, const http::ExchangePtr& ex, CompletionRequest& req,
                         models::Lease lease) {
  const models::ModelInstance& m = *lease;
  auto caller = access::caller_of(ex->request());
  GenerationPlan plan;
  plan.model = lease.get();
  plan.lease = std::move(lease);
  if (auto e = build_prompts(m, req, &plan)) return respond(*ex, *e);
  int64_t reserve = 0;
  if (auto e = build_request(m, req, &plan, &reserve)) return respond(*ex, *e);
  plan.meta.endpoint = endpoint;
  plan.meta.id = completion_id(endpoint);
  plan.meta.created = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  plan.meta.model = m.id;
  plan.meta.fingerprint = m.fingerprint;
  plan.stream = req.stream;
  plan.include_usage = req.include_usage;
  plan.logprobs = req.logprobs;
  plan.stream_interval = ctx.stream_interval;
  plan.metrics = ctx.metrics;

  // The caller's team: fair share, and prefix-cache blocks shared only within it.
  scheduler::GenerationRequest& r = plan.request;
  if (caller) {
    r.team = caller->team;
    r.team_weight = caller->weight;
    if (caller->batch) r.priority = scheduler::Priority::batch;
    r.cache_salt = "team:" + std::to_string(caller->team_id);
  }
  if (req.priority) r.priority = *req.priority;  // the request's own choice wins over its key's
  if (!ctx.auth) return Generation::start(ex, std::move(plan), auth::Admission());

  int64_t prompt_tokens = 0;
  for (const auto& p : plan.prompts) prompt_tokens += static_cast<int64_t>(p.size());
  auth::AdmissionRequest admission{m.id, prompt_tokens, reserve, ex->request().id};
  // Runs on the ledger's thread (or at once when refused in memory): submit() only queues.
  auto shared_plan = std::make_shared<GenerationPlan>(std::move(plan));
  access::admit(*ctx.auth, ex, std::move(admission),
                [ex, shared_plan](auth::Admission admitted, http::Headers headers) {
                  for (const auto& [name, value] : headers.fields()) shared_plan->headers.set(name, value);
                  Generation::start(ex, std::move(*shared_plan), std::move(admitted));
                });
}

}  // namespace

void handle_completion(const ApiContext& ctx, Endpoint endpoint, const http::ExchangePtr& ex) {
  auto req = std::make_shared<CompletionRequest>();
  const std::string_view endpoint_label = endpoint == Endpoint::chat ? "chat.completions" : "completions";
  {
    auto caller = access::caller_of(ex->request());
    ex->set_metric_labels(endpoint_label, {}, caller ? std::string_view(caller->team) : std::string_view());
  }
  if (auto e = parse_completion_request(endpoint, ex->request().body, req.get())) return respond(*ex, *e);
  const auto id = front_of_model_request(ctx, ex, endpoint_label, req->model, &req->priority);
  if (!id) return;
  // A stream that waits for a load keeps its connection alive with SSE
  // comments (proxies close idle connections); its answer then follows as
  // events of that stream.
  std::function<void()> tick;
  if (req->stream) {
    auto begun = std::make_shared<std::atomic<bool>>(false);
    tick = [ex, begun] {
      if (!begun->exchange(true)) http::sse::begin(*ex);
      http::sse::send_comment(*ex, "waiting for the model to load");
    };
  }
  with_model_lease(
      ctx, ex, *id,
      [ctx, endpoint, ex, req](models::Lease lease) { continue_completion(ctx, endpoint, ex, *req, std::move(lease)); },
      std::move(tick));
}

}  // namespace llmd::openai
