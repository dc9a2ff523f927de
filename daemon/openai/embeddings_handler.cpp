// POST /v1/embeddings: parse and validate, resolve the model and take a lease
// on it (loading it when needed), check that it is an embedding model,
// tokenize the inputs and check them against its context, admit (limits and
// budgets: the inputs' tokens are prompt tokens, nothing is reserved for a
// completion), then hand the inputs to an EmbeddingJob.
#include <thread>

#include "daemon/access/access.hpp"
#include "daemon/http/error_status.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/openai/embedding_job.hpp"
#include "daemon/openai/embeddings_request.hpp"
#include "daemon/openai/model_request_front.hpp"
#include "daemon/openai/routes.hpp"

namespace llmd::openai {
namespace {

void respond(http::Exchange& ex, const ApiError& e) { ex.respond_error(e.status, e.message, e.code, e.param); }

// The inputs as token ids, checked against the vocabulary and the context.
std::optional<ApiError> build_inputs(const models::ModelInstance& m, EmbeddingsRequest& req, EmbeddingPlan* plan) {
  const engine::Tokenizer& tok = *m.tokenizer;
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    PromptInput& p = req.inputs[i];
    const std::string param = req.inputs.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
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
    } else {
      // Text is the caller's data: special-token text in it stays text.
      ids = tok.encode(p.text, /*add_special=*/true, /*parse_special=*/false);
      p.text.clear();
    }
    if (ids.empty()) return ApiError{400, "'" + param + "' encodes to no tokens.", "invalid_value", param};
    if (static_cast<int64_t>(ids.size()) > m.max_context) {
      return ApiError{400,
                      "This model's maximum context length is " + std::to_string(m.max_context) + " tokens, but '" +
                          param + "' has " + std::to_string(ids.size()) + " tokens. Please shorten it.",
                      "context_length_exceeded", param};
    }
    plan->inputs.push_back(std::move(ids));
  }
  return std::nullopt;
}

// Which `dimensions` a model allows: its full width always; fewer (Matryoshka
// truncation, renormalised) only for qwen3 embedding models, which are
// trained for it.
std::optional<ApiError> check_dimensions(const models::ModelInstance& m, const EmbeddingsRequest& req, int32_t* out) {
  const engine::ModelConfig& c = m.model->config();
  *out = 0;
  if (!req.dimensions) return std::nullopt;
  const int64_t d = *req.dimensions;
  if (d > c.n_embd) {
    return ApiError{400,
                    "Invalid 'dimensions': model '" + m.id + "' has " + std::to_string(c.n_embd) + " dimensions (got " +
                        std::to_string(d) + ").",
                    "invalid_value", "dimensions"};
  }
  if (d < c.n_embd && c.arch != engine::ModelArch::qwen3) {
    return ApiError{400,
                    "Model '" + m.id + "' does not support shortened embeddings ('dimensions' must be " +
                        std::to_string(c.n_embd) + "): only Matryoshka-trained qwen3 embedding models do.",
                    "unsupported_parameter", "dimensions"};
  }
  if (d < c.n_embd) *out = static_cast<int32_t>(d);
  return std::nullopt;
}

// The rest of the request once its model is resident. Runs on a worker thread.
void continue_embeddings(const ApiContext& ctx, const http::ExchangePtr& ex, EmbeddingsRequest& req, models::Lease lease) {
  const models::ModelInstance& m = *lease;
  const engine::ModelConfig& c = m.model->config();
  if (!c.is_embedding()) {
    return respond(*ex, ApiError{400,
                                 "Model '" + m.id + "' is not an embedding model (its GGUF file declares no " +
                                     c.arch_name + ".pooling_type); use it with /v1/chat/completions or /v1/completions.",
                                 "model_not_embedding", "model"});
  }
  EmbeddingPlan plan;
  plan.model = lease.get();
  plan.lease = std::move(lease);
  plan.base64 = req.base64;
  plan.metrics = ctx.metrics;
  if (auto e = check_dimensions(m, req, &plan.dimensions)) return respond(*ex, *e);
  if (auto e = build_inputs(m, req, &plan)) return respond(*ex, *e);

  scheduler::GenerationRequest& r = plan.request;
  r.embed = c.pooling;
  auto caller = access::caller_of(ex->request());
  if (caller) {
    r.team = caller->team;
    r.team_weight = caller->weight;
    if (caller->batch) r.priority = scheduler::Priority::batch;
    r.cache_salt = "team:" + std::to_string(caller->team_id);
  }
  if (req.priority) r.priority = *req.priority;
  if (!ctx.auth) return EmbeddingJob::start(ex, std::move(plan), auth::Admission());

  int64_t tokens = 0;
  for (const auto& in : plan.inputs) tokens += static_cast<int64_t>(in.size());
  auth::AdmissionRequest admission{m.id, tokens, 0, ex->request().id};
  auto shared_plan = std::make_shared<EmbeddingPlan>(std::move(plan));
  access::admit(*ctx.auth, ex, std::move(admission), [ex, shared_plan](auth::Admission admitted, http::Headers headers) {
    for (const auto& [name, value] : headers.fields()) shared_plan->headers.set(name, value);
    EmbeddingJob::start(ex, std::move(*shared_plan), std::move(admitted));
  });
}

}  // namespace

void handle_embeddings(const ApiContext& ctx, const http::ExchangePtr& ex) {
  auto req = std::make_shared<EmbeddingsRequest>();
  constexpr std::string_view kEndpoint = "embeddings";
  {
    auto caller = access::caller_of(ex->request());
    ex->set_metric_labels(kEndpoint, {}, caller ? std::string_view(caller->team) : std::string_view());
  }
  if (auto e = parse_embeddings_request(ex->request().body, req.get())) return respond(*ex, *e);
  const auto id = front_of_model_request(ctx, ex, kEndpoint, req->model, &req->priority);
  if (!id) return;
  with_model_lease(
      ctx, ex, *id, [ctx, ex, req](models::Lease lease) { continue_embeddings(ctx, ex, *req, std::move(lease)); },
      nullptr);
}

}  // namespace llmd::openai
