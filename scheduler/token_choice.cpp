// The scheduler's token choices: planning each step's samples before the
// forward pass (the sequences whose chunk ends their known tokens and the
// choices that fork from a leader), and taking the chosen tokens afterwards:
// forks, the structured-output constraint, stop conditions.
#include <algorithm>

#include "base/log.hpp"
#include "engine/structured/grammar_constraint.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "scheduler/scheduler.hpp"

namespace llmd::scheduler {

std::vector<int32_t> Scheduler::plan_samples(const StepPlan& plan, engine::ForwardBatch* batch) {
  std::vector<int32_t> first(plan.seqs.size(), -1);
  // Who chooses, and from which row; plans are made once the list is complete
  // so that the pointers handed to the backend stay valid.
  struct Choice {
    Sequence* seq;
    int32_t row;
    Sequence* leader;  // for a forking choice: whose prompt it shares
  };
  std::vector<Choice> choices;
  int32_t row = 0;
  for (size_t i = 0; i < plan.seqs.size(); ++i) {
    if (batch->seqs[i].logits != engine::LogitsMode::last) continue;
    const int32_t r = row++;
    Sequence* s = plan.seqs[i].seq;
    if (s->pooler || s->state != SeqState::running) continue;
    first[i] = static_cast<int32_t>(choices.size());
    choices.push_back({s, r, nullptr});
    if (s->req->forked) continue;
    for (size_t c = 1; c < s->req->choices.size(); ++c) {
      Sequence* choice = s->req->choices[c].get();
      if (choice->state == SeqState::unborn) choices.push_back({choice, r, s});
    }
  }
  const auto n_vocab = static_cast<size_t>(model_.n_vocab);
  if (sample_plans_.size() < choices.size()) sample_plans_.resize(choices.size());
  batch->samples.clear();
  for (size_t k = 0; k < choices.size(); ++k) {
    Sequence* s = choices[k].seq;
    ensure_constraint(s);
    // A forking choice starts from the leader's prompt with nothing generated.
    const std::span<const int32_t> prompt = choices[k].leader ? choices[k].leader->prompt() : s->prompt();
    const std::span<const int32_t> generated = choices[k].leader ? std::span<const int32_t>() : s->completion();
    s->sampler->plan(n_vocab, prompt, generated, s->constraint.get(), &sample_plans_[k]);
    batch->samples.push_back({choices[k].row, &sample_plans_[k]});
  }
  return first;
}

void Scheduler::ensure_constraint(Sequence* s) {
  // A structured-output choice's constraint is made at its first sample, on
  // the engine thread: the vocabulary trie behind it is built then (once per
  // model), never on a submitting thread.
  const GenerationRequest& p = s->req->params;
  if (!s->constraint && p.grammar && !p.ignore_eos) {
    s->constraint =
        std::make_unique<engine::structured::GrammarConstraint>(p.grammar, vocab_trie(p.shown_control_tokens));
  }
}

std::shared_ptr<const engine::structured::VocabTrie> Scheduler::vocab_trie(const std::vector<int32_t>& shown_control) {
  std::vector<int32_t> key = shown_control;
  std::sort(key.begin(), key.end());
  key.erase(std::unique(key.begin(), key.end()), key.end());
  std::lock_guard lk(vocab_trie_mu_);
  auto& trie = vocab_tries_[key];
  if (!trie) trie = std::make_shared<const engine::structured::VocabTrie>(tokenizer_, key);
  return trie;
}

void Scheduler::emit_sampled(Sequence* s, std::span<const engine::SampledToken> sampled) {
  // The other choices of the request share the prompt just computed: fork
  // them before this one's token can end it and release its blocks.
  if (!s->req->forked) fork_choices(s, sampled.subspan(1));
  accept_token(s, sampled[0]);
}

void Scheduler::fork_choices(Sequence* leader, std::span<const engine::SampledToken> sampled) {
  RequestState* r = leader->req;
  r->forked = true;
  const std::string& team = r->params.team;
  size_t k = 0;  // the next of `sampled`: one per unborn choice, in order
  for (size_t i = 1; i < r->choices.size(); ++i) {
    Sequence* c = r->choices[i].get();
    if (c->state != SeqState::unborn) continue;
    if (k >= sampled.size()) break;  // planned with the same rule: does not happen
    const engine::SampledToken& t = sampled[k++];
    c->tokens.assign(leader->tokens.begin(), leader->tokens.begin() + leader->prompt_len);
    engine::kv::BlockCopy copy;
    bool shared = kv_.fork(leader->table, leader->num_computed, c->table, &copy);
    if (shared && copy.src >= 0) {
      if (Status st = backend_->copy_kv_block(copy.src, copy.dst); !st) {
        log::warnf("scheduler %s: KV block copy failed (%s); the choice will recompute", config_.name.c_str(),
                     st.error().message.c_str());
        kv_.release(c->table);
        shared = false;
      }
    }
    c->charged = leader->charged;  // the prompt is paid once, by the leader
    if (shared) {
      c->state = SeqState::running;
      c->num_computed = leader->num_computed;
      planner_.stamp_admission(c);
      running_.push_back(c);
      fair_.on_forked(team, 1);
    } else {
      // No block for its tail: it waits and recomputes (mostly from the cache).
      c->state = SeqState::waiting;
      c->num_computed = 0;
      fair_.push_front(team, c->handle(), c->req->params.priority);
    }
    accept_token(c, t);
  }
}

void Scheduler::accept_token(Sequence* s, const engine::SampledToken& t) {
  RequestState* r = s->req;
  s->tokens.push_back(t.id);
  s->decoding = s->state == SeqState::running;
  ++r->usage.completion_tokens;
  const GenerationRequest& p = r->params;
  if (s->constraint && !s->constraint->accept(t.id)) {
    // Only when no token of the vocabulary can continue the document.
    const Error err(ErrorCode::engine_error, "no token of the model's vocabulary can continue the structured output");
    finish_seq(s, FinishReason::error, -1, &err);
    return;
  }
  if (!p.ignore_eos && tokenizer_.is_eog(t.id)) {
    finish_seq(s, FinishReason::eos);
    return;
  }
  if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), t.id) != p.stop_token_ids.end()) {
    finish_seq(s, FinishReason::stop);
    return;
  }
  s->pending_tokens.push_back(GeneratedToken{t.id, t.logprob, t.top_logprobs});
  ChoiceText text = s->text->push(t.id);
  s->pending_text += text.text;
  if (text.stopped) {
    finish_seq(s, FinishReason::stop, text.stop_index);
    return;
  }
  if (s->constraint && s->constraint->finished()) {
    finish_seq(s, FinishReason::stop);
    return;
  }
  if ((p.max_tokens > 0 && s->generated() >= p.max_tokens) || s->size() >= max_context_) {
    finish_seq(s, FinishReason::length);
    return;
  }
  emit(s, FinishReason::none, -1, nullptr);
}

}  // namespace llmd::scheduler
