#include "bench/scheduler/bench_args.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "engine/synth/synth_model.hpp"
#include "engine/synth/synth_shapes.hpp"

namespace llmd::bench {

bool BenchArgs::next(std::string* flag) {
  if (++i_ >= argc_) return false;
  flag_ = argv_[i_];
  if (flag_ == "-h" || flag_ == "--help") usage("help");
  *flag = flag_;
  return true;
}

std::string BenchArgs::value() {
  if (i_ + 1 >= argc_) usage("missing value for " + flag_);
  return argv_[++i_];
}

int BenchArgs::number(int lo, int hi) {
  const std::string v = value();
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str() || *end || n < lo || n > hi) usage("bad value for " + flag_ + ": " + v);
  return static_cast<int>(n);
}

std::vector<int> BenchArgs::numbers(int lo, int hi, size_t min_count, size_t max_count, char sep) {
  const std::string v = value();
  std::vector<int> out;
  size_t start = 0;
  for (;;) {
    const size_t end = v.find(sep, start);
    const std::string part = v.substr(start, end == std::string::npos ? std::string::npos : end - start);
    char* stop = nullptr;
    const long n = std::strtol(part.c_str(), &stop, 10);
    if (part.empty() || *stop || n < lo || n > hi) usage("bad value for " + flag_ + ": " + v);
    out.push_back(static_cast<int>(n));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (out.size() < min_count || out.size() > max_count) usage("bad value for " + flag_ + ": " + v);
  return out;
}

void BenchArgs::unknown() { usage("unknown argument " + flag_); }

void BenchArgs::usage(const std::string& why) const {
  std::fprintf(stderr, "%s: %s\nusage: %s\n", program_.c_str(), why.c_str(), usage_.c_str());
  std::exit(2);
}

bool take_model_flag(BenchArgs& args, const std::string& flag, ModelChoice* m) {
  if (flag == "-m" || flag == "--model") m->model = args.value();
  else if (flag == "--shape") m->shape = args.value();
  else if (flag == "--type") m->type = args.value();
  else if (flag == "--model-dir") m->model_dir = args.value();
  else return false;
  return true;
}

std::string ensure_model(const BenchArgs& args, const ModelChoice& m) {
  if (!m.model.empty()) return m.model;
  const auto* shape = engine::synth::find_synth_shape(m.shape);
  if (!shape) args.usage("unknown shape " + m.shape);
  const std::filesystem::path dir =
      m.model_dir.empty() ? std::filesystem::temp_directory_path() / "llmd-bench-models" : std::filesystem::path(m.model_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto path = dir / (m.shape + "-" + m.type + ".gguf");
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "writing %s (synthetic %s, %s) ...\n", path.c_str(), m.shape.c_str(), m.type.c_str());
    engine::synth::SynthOptions so;
    so.type = m.type;
    if (Status st = engine::synth::write_synth_model(*shape, so, path.string()); !st) {
      std::fprintf(stderr, "%s: %s\n", args.program().c_str(), st.error().message.c_str());
      std::exit(1);
    }
  }
  return path.string();
}

}  // namespace llmd::bench
