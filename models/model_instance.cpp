#include "models/model_instance.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/log.hpp"

#ifndef LLMD_VERSION
#define LLMD_VERSION "dev"
#endif

namespace llmd::models {
namespace {

// FNV-1a, 64 bits: a stable digest for the fingerprint (not a security hash).
uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

Result<std::unique_ptr<engine::ChatTemplate>> chat_template_for(const ModelSpec& spec, const gguf::GgufFile& file) {
  if (spec.chat_template.empty()) return engine::select_chat_template(file, spec.chat_template_name);
  std::ifstream in(spec.chat_template, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Error(ErrorCode::chat_template_unreadable, "cannot read " + spec.chat_template.string());
  return engine::select_chat_template_from_jinja(file, text.str(), spec.chat_template.string());
}

}  // namespace

ModelInstance::~ModelInstance() = default;

ServingPlan serving_plan(const ModelSpec& spec, const engine::Model& model) {
  const engine::ModelConfig& mc = model.config();
  int32_t n_ctx = mc.n_ctx_train > 0 ? mc.n_ctx_train : 2048;
  if (spec.context_length > 0) {
    n_ctx = static_cast<int32_t>(spec.context_length);
  } else if (n_ctx > static_cast<int32_t>(kDefaultContextCap)) {
    n_ctx = static_cast<int32_t>(kDefaultContextCap);
  }
  ServingPlan p;
  p.limits = {n_ctx, mc.n_vocab, mc.is_embedding() ? mc.n_embd : 0};
  scheduler::SchedulerConfig& sc = p.config;
  sc.name = spec.id;
  sc.max_seqs = static_cast<int32_t>(spec.max_sequences);
  sc.max_batched_tokens = std::max<int32_t>(512, sc.max_seqs);
  sc.max_choices = static_cast<int32_t>(std::min(spec.max_choices, spec.max_sequences));
  sc.kv_bytes = spec.kv_cache_bytes;
  sc.max_waiting = static_cast<int32_t>(spec.max_waiting);
  // One team cannot fill the queue: others get queue_full only for their own overflow.
  sc.max_waiting_per_team = static_cast<int32_t>(
      spec.max_waiting_per_team > 0 ? std::min(spec.max_waiting_per_team, spec.max_waiting)
                                    : std::max<uint32_t>(1, spec.max_waiting / 4));
  sc.share_preemption.enabled = spec.share_preemption;
  return p;
}

Result<std::shared_ptr<ModelInstance>> open_instance(const ModelSpec& spec, std::unique_ptr<engine::Model> model,
                                                     engine::DeviceKind kind, std::function<void()> after_step,
                                                     std::function<void(const Error&)> on_backend_failed) {
  const std::string where = "model '" + spec.id + "' (" + spec.path.string() + "): ";
  auto m = std::make_shared<ModelInstance>();
  m->id = spec.id;
  m->aliases = spec.aliases;
  m->model = std::move(model);
  const engine::ModelConfig& mc = m->model->config();
  auto tok = engine::Tokenizer::from_gguf(m->model->gguf());
  if (!tok) return tok.take_error().with_context(where);
  m->tokenizer = std::move(*tok);
  auto tmpl = chat_template_for(spec, m->model->gguf());
  if (!tmpl) return tmpl.take_error().with_context(where);
  m->chat_template = std::move(*tmpl);

  ServingPlan plan = serving_plan(spec, *m->model);
  if (spec.context_length == 0 && mc.n_ctx_train > static_cast<int32_t>(kDefaultContextCap)) {
    log::noticef("model '%s': serving %u of its %d context tokens; set context_length for more", spec.id.c_str(),
                 kDefaultContextCap, mc.n_ctx_train);
  }
  plan.config.after_step = std::move(after_step);
  plan.config.on_backend_failed = std::move(on_backend_failed);
  m->kv_block_bytes = engine::kv_block_bytes_on(kind, mc, {0, plan.config.block_size, plan.config.kv_dtype});
  auto sched = scheduler::Scheduler::create_paused(m->kv_block_bytes, *m->tokenizer, plan.limits, plan.config);
  if (!sched) return sched.take_error().with_context(where);
  m->scheduler = std::move(*sched);
  m->max_context = m->scheduler->max_context();
  m->max_choices = plan.config.max_choices;
  m->n_vocab = mc.n_vocab;

  struct stat st{};
  if (::stat(spec.path.c_str(), &st) == 0) m->created = static_cast<int64_t>(st.st_mtime);
  uint64_t h = fnv1a(LLMD_VERSION);
  h = fnv1a(spec.id, h);
  h = fnv1a(std::to_string(m->model->gguf().file_size()) + ":" + std::to_string(m->created), h);
  char fp[32];
  std::snprintf(fp, sizeof fp, "fp_%012llx", static_cast<unsigned long long>(h & 0xffffffffffffull));
  m->fingerprint = fp;
  m->scheduler->start();
  return m;
}

}  // namespace llmd::models
