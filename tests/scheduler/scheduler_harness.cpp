#include "tests/scheduler/scheduler_harness.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/synth/synth_model.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {

ModelLimits LoadedModel::limits() const {
  return ModelLimits{model->config().n_ctx_train, model->config().n_vocab, model->config().n_embd};
}

std::vector<int32_t> LoadedModel::encode(const std::string& text) const {
  return tokenizer->encode(text, /*add_special=*/true, /*parse_special=*/false);
}

std::unique_ptr<LoadedModel> load_model(const std::filesystem::path& path, int threads) {
  auto m = std::make_unique<LoadedModel>();
  auto model = engine::Model::load(path.string());
  if (!model) {
    ADD_FAILURE() << "loading " << path << ": " << model.error().message;
    return nullptr;
  }
  m->model = std::move(model.value());
  auto tok = engine::Tokenizer::from_gguf(m->model->gguf());
  if (!tok) {
    ADD_FAILURE() << "tokenizer of " << path << ": " << tok.error().message;
    return nullptr;
  }
  m->tokenizer = std::move(tok.value());
  engine::CpuBackendOptions opts;
  opts.threads = threads;
  auto backend = engine::make_cpu_backend(*m->model, opts);
  if (!backend) {
    ADD_FAILURE() << "CPU backend for " << path << ": " << backend.error().message;
    return nullptr;
  }
  m->backend = std::move(backend.value());
  return m;
}

std::filesystem::path synthetic_gqa_model() {
  static std::filesystem::path path = [] {
    const auto dir = std::filesystem::temp_directory_path() / ("llmd-sched-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto p = dir / "gqa.gguf";
    engine::synth::SynthShape shape;
    shape.name = "test-gqa";
    shape.n_vocab = 320;
    shape.n_embd = 64;
    shape.n_layer = 2;
    shape.n_head = 8;
    shape.n_head_kv = 2;
    shape.n_ff = 96;
    shape.n_ctx = 512;
    engine::synth::SynthOptions opts;
    opts.type = "f32";
    opts.seed = 7;
    opts.threads = 1;
    if (Status st = engine::synth::write_synth_model(shape, opts, p.string()); !st) {
      ADD_FAILURE() << "writing the synthetic model: " << st.error().message;
    }
    return p;
  }();
  return path;
}

EventSink Recorder::sink() {
  auto self = shared_from_this();
  return [self](StreamEvent&& ev) { self->on_event(std::move(ev)); };
}

void Recorder::on_event(StreamEvent&& ev) {
  std::lock_guard lk(mu_);
  if (done_ || ev.choice < 0 || ev.choice >= static_cast<int>(choices_.size())) {
    ++protocol_errors_;
    return;
  }
  ChoiceRecord& c = choices_[static_cast<size_t>(ev.choice)];
  if (c.finish != FinishReason::none) ++protocol_errors_;  // event after the choice finished
  ++c.events;
  for (const auto& t : ev.tokens) {
    c.ids.push_back(t.id);
    c.logprobs.push_back(t.logprob);
  }
  c.text += ev.text;
  if (ev.finish != FinishReason::none) {
    c.finish = ev.finish;
    c.stop_index = ev.stop_index;
  }
  usage_ = ev.usage;
  if (ev.done) {
    for (const auto& other : choices_) {
      if (other.finish == FinishReason::none) ++protocol_errors_;  // done before every choice finished
    }
    done_ = true;
    cv_.notify_all();
  }
}

bool Recorder::done() const {
  std::lock_guard lk(mu_);
  return done_;
}

bool Recorder::wait_done(int timeout_ms) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [this] { return done_; });
}

int Recorder::protocol_errors() const {
  std::lock_guard lk(mu_);
  return protocol_errors_;
}

int64_t Recorder::generated_total() const {
  std::lock_guard lk(mu_);
  int64_t n = 0;
  for (const auto& c : choices_) n += static_cast<int64_t>(c.ids.size());
  return n;
}

GenerationRequest greedy_request(std::vector<int32_t> prompt, int32_t max_tokens, std::shared_ptr<Recorder> rec,
                                 const std::string& team) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.team = team;
  r.cache_salt = team;
  r.on_event = rec->sink();
  return r;
}

void run_to_idle(Scheduler& s, int max_steps) {
  for (int i = 0; i < max_steps; ++i) {
    if (!s.step()) return;
  }
  ADD_FAILURE() << "the scheduler did not become idle within " << max_steps << " steps";
}

std::unique_ptr<Scheduler> make_scheduler(LoadedModel& m, const SchedulerConfig& config) {
  auto s = Scheduler::create(*m.backend, *m.tokenizer, m.limits(), config);
  if (!s) {
    ADD_FAILURE() << "creating the scheduler: " << s.error().message;
    return nullptr;
  }
  return std::move(s.value());
}

std::vector<int32_t> generate_alone(LoadedModel& m, const std::vector<int32_t>& prompt, int32_t max_tokens,
                                    bool ignore_eos) {
  SchedulerConfig cfg;
  cfg.max_seqs = 1;
  cfg.max_choices = 1;
  auto s = make_scheduler(m, cfg);
  if (!s) return {};
  auto rec = std::make_shared<Recorder>();
  auto req = greedy_request(prompt, max_tokens, rec);
  req.ignore_eos = ignore_eos;
  auto id = s->submit(std::move(req));
  if (!id) {
    ADD_FAILURE() << id.error().message;
    return {};
  }
  run_to_idle(*s);
  EXPECT_TRUE(rec->done());
  return rec->choice().ids;
}

}  // namespace llmd::scheduler::test
