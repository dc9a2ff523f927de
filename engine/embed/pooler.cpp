#include "engine/embed/pooler.hpp"

#include <cmath>

namespace llmd::engine {
namespace {

std::vector<float> normalised(const double* v, size_t n) {
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i) ss += v[i] * v[i];
  const double scale = ss > 0.0 ? 1.0 / std::sqrt(ss) : 1.0;
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(v[i] * scale);
  return out;
}

}  // namespace

Pooler::Pooler(PoolingType type, int32_t n_embd, int32_t text_len)
    : type_(type), n_embd_(n_embd), len_(text_len), acc_(static_cast<size_t>(n_embd), 0.0) {}

LogitsMode Pooler::mode_for_chunk(int32_t pos, int32_t n) const {
  switch (type_) {
    case PoolingType::mean:
      return pos + n > pooled_ ? LogitsMode::embed_all : LogitsMode::none;
    case PoolingType::cls:
      return pos == 0 && !have_row_ ? LogitsMode::embed_all : LogitsMode::none;
    case PoolingType::last:
      return pos + n == len_ ? LogitsMode::embed_last : LogitsMode::none;
    case PoolingType::none:
      break;
  }
  return LogitsMode::none;
}

void Pooler::add(int32_t pos, int32_t n, LogitsMode mode, std::span<const float> rows) {
  const size_t E = static_cast<size_t>(n_embd_);
  auto row = [&](size_t i) { return rows.subspan(i * E, E); };
  auto keep = [&](std::span<const float> r) {
    for (size_t j = 0; j < E; ++j) acc_[j] = r[j];
    have_row_ = true;
  };
  switch (type_) {
    case PoolingType::mean:
      if (mode != LogitsMode::embed_all) return;
      for (int32_t i = 0; i < n; ++i) {
        if (pos + i != pooled_) continue;  // already pooled, or (never) a gap
        std::span<const float> r = row(static_cast<size_t>(i));
        for (size_t j = 0; j < E; ++j) acc_[j] += r[j];
        ++pooled_;
      }
      return;
    case PoolingType::cls:
      if (mode == LogitsMode::embed_all && pos == 0 && !have_row_ && n > 0) keep(row(0));
      return;
    case PoolingType::last:
      if (mode == LogitsMode::embed_last && pos + n == len_) keep(row(0));
      return;
    case PoolingType::none:
      return;
  }
}

bool Pooler::complete() const { return type_ == PoolingType::mean ? pooled_ == len_ : have_row_; }

std::vector<float> Pooler::finish() const {
  if (type_ != PoolingType::mean) return normalised(acc_.data(), acc_.size());
  std::vector<double> mean(acc_.size());
  for (size_t j = 0; j < acc_.size(); ++j) mean[j] = acc_[j] / static_cast<double>(len_ > 0 ? len_ : 1);
  return normalised(mean.data(), mean.size());
}

std::vector<float> truncate_embedding(std::span<const float> embedding, int32_t dims) {
  std::vector<double> v(embedding.begin(), embedding.begin() + dims);
  return normalised(v.data(), v.size());
}

}  // namespace llmd::engine
