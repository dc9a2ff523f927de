#include "engine/cuda/step_plan.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/cuda/cuda_status.hpp"

namespace llmd::engine::cuda {
namespace {

Error bad(size_t i, const std::string& what) {
  return Error(errc::kBadBatch, "sequence " + std::to_string(i) + " of the batch: " + what);
}

int round_pow2(int v) {
  int p = 8;
  while (p < v) p <<= 1;
  return p;
}

// One sequence's share of a step.
struct Piece {
  size_t seq;    // index in the batch
  int32_t off;   // first token of the chunk taken
  int32_t n;
  bool last;     // the chunk's final piece
};

StepPlan build(const ForwardBatch& batch, const std::vector<Piece>& pieces, const PlanLimits& lim, bool stride_pow2) {
  StepPlan p;
  p.n_seqs = static_cast<int>(pieces.size());
  p.all_decode = true;
  int stride = 1;
  for (const Piece& pc : pieces) {
    const BatchSeq& s = batch.seqs[pc.seq];
    const int end = s.pos + pc.off + pc.n;
    stride = std::max(stride, (end + lim.block_size - 1) / lim.block_size);
    if (pc.n != 1) p.all_decode = false;
  }
  p.bt_stride = stride_pow2 ? round_pow2(stride) : stride;
  p.block_tables.assign(static_cast<size_t>(p.n_seqs) * p.bt_stride, 0);
  for (size_t j = 0; j < pieces.size(); ++j) {
    const Piece& pc = pieces[j];
    const BatchSeq& s = batch.seqs[pc.seq];
    const int32_t tok0 = static_cast<int32_t>(p.tokens.size());
    const int32_t pos0 = s.pos + pc.off;
    const int need = (pos0 + pc.n + lim.block_size - 1) / lim.block_size;
    std::copy(s.block_table.begin(), s.block_table.begin() + need, p.block_tables.begin() + j * p.bt_stride);
    for (int32_t i = 0; i < pc.n; ++i) {
      p.tokens.push_back(s.tokens[static_cast<size_t>(pc.off + i)]);
      p.pos.push_back(pos0 + i);
      p.seq.push_back(static_cast<int32_t>(j));
    }
    if (s.logits == LogitsMode::all) {
      for (int32_t i = 0; i < pc.n; ++i) p.rows.push_back(tok0 + i);
    } else if (s.logits == LogitsMode::last && pc.last) {
      p.rows.push_back(tok0 + pc.n - 1);
    }
    if (lim.tiled_attention && pc.n > 1) {
      for (int32_t i = 0; i < pc.n; i += 64) {
        p.tiles.push_back({tok0 + i, std::min<int32_t>(64, pc.n - i), static_cast<int32_t>(j), pos0 + i});
      }
    } else {
      for (int32_t i = 0; i < pc.n; ++i) {
        p.dlist.push_back(tok0 + i);
        p.max_ctx = std::max(p.max_ctx, pos0 + i + 1);
      }
    }
  }
  // Heaviest tiles first so the long ones start early.
  std::stable_sort(p.tiles.begin(), p.tiles.end(), [](const AttnTile& a, const AttnTile& b) {
    return a.pos0 + a.n_rows > b.pos0 + b.n_rows;
  });
  return p;
}

size_t align2(size_t v) { return (v + 1) & ~size_t{1}; }

}  // namespace

Status validate_batch(const ForwardBatch& batch, const PlanLimits& lim) {
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const BatchSeq& s = batch.seqs[i];
    if (s.tokens.empty()) return bad(i, "no tokens");
    if (is_embedding_mode(s.logits))
      return bad(i, "asks for embeddings, which the CUDA backend does not compute (serve embedding models on the CPU)");
    if (s.pos < 0) return bad(i, "negative position");
    const int64_t end = static_cast<int64_t>(s.pos) + static_cast<int64_t>(s.tokens.size());
    if (end > lim.max_pos) {
      return bad(i, "positions up to " + std::to_string(end) + " exceed the context limit " +
                        std::to_string(lim.max_pos));
    }
    for (int32_t t : s.tokens) {
      if (t < 0 || t >= lim.n_vocab) return bad(i, "token id " + std::to_string(t) + " out of range");
    }
    const int64_t need = (end + lim.block_size - 1) / lim.block_size;
    if (static_cast<int64_t>(s.block_table.size()) < need) {
      return bad(i, "block table has " + std::to_string(s.block_table.size()) + " blocks, " + std::to_string(need) +
                        " needed");
    }
    for (int64_t b = 0; b < need; ++b) {
      const int32_t blk = s.block_table[static_cast<size_t>(b)];
      if (blk < 0 || blk >= lim.n_blocks) return bad(i, "block id " + std::to_string(blk) + " out of range");
    }
  }
  return ok_status();
}

std::vector<StepPlan> plan_steps(const ForwardBatch& batch, const PlanLimits& lim, bool stride_pow2) {
  std::vector<StepPlan> steps;
  std::vector<Piece> pieces;
  int used = 0;
  auto flush = [&]() {
    if (pieces.empty()) return;
    steps.push_back(build(batch, pieces, lim, stride_pow2));
    pieces.clear();
    used = 0;
  };
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const int32_t n = static_cast<int32_t>(batch.seqs[i].tokens.size());
    int32_t off = 0;
    while (off < n) {
      if (used == lim.max_tokens || static_cast<int>(pieces.size()) == lim.max_seqs) flush();
      const int32_t take = std::min(n - off, lim.max_tokens - used);
      pieces.push_back({i, off, take, off + take == n});
      used += take;
      off += take;
    }
  }
  flush();
  return steps;
}

StepLayout step_layout(const StepPlan& p) {
  StepLayout l;
  size_t at = 0;
  l.split_len = at;
  at += 1;
  l.tokens = at;
  at += p.tokens.size();
  l.pos = at;
  at += p.pos.size();
  l.seq = at;
  at += p.seq.size();
  l.rows = at;
  at += p.rows.size();
  l.dlist = at;
  at += p.dlist.size();
  l.tiles = at;
  at += p.tiles.size() * 4;
  l.block_tables = at;
  at += p.block_tables.size();
  l.seeds = align2(at);
  at = l.seeds + p.rows.size() * 2;
  l.total = at;
  return l;
}

void write_step_inputs(const StepPlan& p, const StepLayout& l, int32_t split_len, const std::vector<uint64_t>& seeds,
                       int32_t* words) {
  static_assert(sizeof(AttnTile) == 16, "AttnTile is four int32");
  words[l.split_len] = split_len;
  auto put = [&](size_t at, const std::vector<int32_t>& v) {
    if (!v.empty()) std::memcpy(words + at, v.data(), v.size() * sizeof(int32_t));
  };
  put(l.tokens, p.tokens);
  put(l.pos, p.pos);
  put(l.seq, p.seq);
  put(l.rows, p.rows);
  put(l.dlist, p.dlist);
  if (!p.tiles.empty()) std::memcpy(words + l.tiles, p.tiles.data(), p.tiles.size() * sizeof(AttnTile));
  put(l.block_tables, p.block_tables);
  for (size_t r = 0; r < p.rows.size(); ++r) {
    const uint64_t s = r < seeds.size() ? seeds[r] : 0;
    std::memcpy(words + l.seeds + 2 * r, &s, sizeof s);
  }
}

}  // namespace llmd::engine::cuda
