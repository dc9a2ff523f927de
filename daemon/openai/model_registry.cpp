#include "daemon/openai/model_registry.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "daemon/http/notify_batch.hpp"
#include "base/log.hpp"
#include "engine/cpu/cpu_backend.hpp"

#ifndef LLMD_VERSION
#define LLMD_VERSION "dev"
#endif

namespace llmd::openai {
namespace {

// FNV-1a, 64 bits: a stable digest for the fingerprint (not a security hash).
uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

Error model_error(const config::ModelConfig& cfg, const Error& e) {
  return Error(e.code, "model '" + cfg.name + "' (" + cfg.path.string() + "): " + e.message);
}

Result<std::unique_ptr<engine::ChatTemplate>> chat_template_for(const config::ModelConfig& cfg,
                                                                const gguf::GgufFile& file) {
  if (cfg.chat_template.empty()) return engine::select_chat_template(file, cfg.chat_template_name);
  std::ifstream in(cfg.chat_template, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Error(ErrorCode::chat_template_unreadable, "cannot read " + cfg.chat_template.string());
  return engine::select_chat_template_from_jinja(file, text.str(), cfg.chat_template.string());
}

}  // namespace

Result<std::unique_ptr<ServedModel>> load_model(const config::ModelConfig& cfg) {
  auto m = std::make_unique<ServedModel>();
  m->id = cfg.name;
  m->aliases = cfg.aliases;

  auto model = engine::Model::load(cfg.path.string());
  if (!model) return model_error(cfg, model.error());
  m->model = std::move(*model);
  const engine::ModelConfig& mc = m->model->config();
  auto tok = engine::Tokenizer::from_gguf(m->model->gguf());
  if (!tok) return model_error(cfg, tok.error());
  m->tokenizer = std::move(*tok);
  auto tmpl = chat_template_for(cfg, m->model->gguf());
  if (!tmpl) return model_error(cfg, tmpl.error());
  m->chat_template = std::move(*tmpl);
  auto backend = engine::make_cpu_backend(*m->model, {.threads = static_cast<int>(cfg.threads), .isa = {}});
  if (!backend) return model_error(cfg, backend.error());
  m->backend = std::move(*backend);

  int32_t n_ctx = mc.n_ctx_train > 0 ? mc.n_ctx_train : 2048;
  if (cfg.context_length > 0) {
    n_ctx = static_cast<int32_t>(cfg.context_length);
  } else if (n_ctx > static_cast<int32_t>(config::kDefaultContextCap)) {
    log::noticef("model '%s': serving %u of its %d context tokens; set context_length in [[models]] for more",
                 cfg.name.c_str(), config::kDefaultContextCap, n_ctx);
    n_ctx = static_cast<int32_t>(config::kDefaultContextCap);
  }
  scheduler::SchedulerConfig sc;
  sc.name = cfg.name;
  sc.max_seqs = static_cast<int32_t>(cfg.max_sequences);
  sc.max_batched_tokens = std::max<int32_t>(512, sc.max_seqs);
  sc.max_choices = static_cast<int32_t>(std::min(cfg.max_choices, cfg.max_sequences));
  sc.kv_bytes = cfg.kv_cache_bytes;
  sc.max_waiting = static_cast<int32_t>(cfg.max_waiting);
  sc.max_waiting_per_team = static_cast<int32_t>(cfg.max_waiting);
  sc.after_step = [] { http::NotifyBatch::flush_this_thread(); };  // one I/O wake-up per step
  auto sched = scheduler::Scheduler::create(*m->backend, *m->tokenizer, {n_ctx, mc.n_vocab}, sc);
  if (!sched) return model_error(cfg, sched.error());
  m->scheduler = std::move(*sched);
  m->max_context = m->scheduler->max_context();
  m->max_choices = sc.max_choices;
  m->n_vocab = mc.n_vocab;

  struct stat st{};
  if (::stat(cfg.path.c_str(), &st) == 0) m->created = static_cast<int64_t>(st.st_mtime);
  uint64_t h = fnv1a(LLMD_VERSION);
  h = fnv1a(cfg.name, h);
  h = fnv1a(std::to_string(m->model->gguf().file_size()) + ":" + std::to_string(m->created), h);
  h = fnv1a(m->backend->name(), h);
  char fp[32];
  std::snprintf(fp, sizeof fp, "fp_%012llx", static_cast<unsigned long long>(h & 0xffffffffffffull));
  m->fingerprint = fp;

  m->scheduler->start();
  const scheduler::SchedulerStats stats = m->scheduler->stats();
  log::noticef("model '%s' loaded: %s, %d layers, vocabulary %d, context %d, %d KV blocks of %d tokens, "
               "%u sequences, backend %s, chat template '%s'",
               cfg.name.c_str(), cfg.path.filename().c_str(), mc.n_layer, mc.n_vocab, m->max_context,
               stats.kv_blocks_total, stats.kv_block_size, cfg.max_sequences, m->backend->name().c_str(),
               m->chat_template->name().c_str());
  return m;
}

ModelRegistry::~ModelRegistry() { stop(); }

Status ModelRegistry::load(const std::vector<config::ModelConfig>& models) {
  for (const auto& cfg : models) {
    auto m = load_model(cfg);
    if (!m) return m.take_error();
    models_.push_back(std::move(*m));
  }
  publish();
  return ok_status();
}

void ModelRegistry::add(std::unique_ptr<ServedModel> model) { models_.push_back(std::move(model)); }

const ServedModel* ModelRegistry::find(std::string_view id) const {
  if (!ready_.load(std::memory_order_acquire)) return nullptr;
  for (const auto& m : models_) {
    if (m->id == id) return m.get();
  }
  for (const auto& m : models_) {
    if (std::find(m->aliases.begin(), m->aliases.end(), id) != m->aliases.end()) return m.get();
  }
  return nullptr;
}

std::vector<const ServedModel*> ModelRegistry::list() const {
  std::vector<const ServedModel*> out;
  if (!ready_.load(std::memory_order_acquire)) return out;
  for (const auto& m : models_) out.push_back(m.get());
  return out;
}

void ModelRegistry::stop() {
  for (auto& m : models_) {
    if (m->scheduler) m->scheduler->stop();
  }
}

}  // namespace llmd::openai
