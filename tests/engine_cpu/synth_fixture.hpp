// Test utilities: synthetic models written to the test's temporary folder, and
// the float64 numpy reference forward pass (reference_forward.py).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/synth/synth_model.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::test {

// Files this test process created; removed when it exits. Names carry the
// process id, so tests running in parallel never share a file.
inline std::vector<std::string>& created_files() {
  struct Files {
    std::vector<std::string> paths;
    ~Files() {
      for (const auto& p : paths) std::remove(p.c_str());
    }
  };
  static Files f;
  return f.paths;
}

inline std::string temp_path(const std::string& name) {
  const std::string p = (std::filesystem::path(::testing::TempDir()) /
                         ("llmd-" + std::to_string(::getpid()) + "-" + name)).string();
  created_files().push_back(p);
  return p;
}

// Writes a synthetic model of `shape` and `type`.
// `pooling` as SynthOptions::pooling (-1: the shape's own).
inline std::string synth_model_file(const engine::synth::SynthShape& shape, const std::string& type,
                                    uint64_t seed = 1, int pooling = -1) {
  const std::string path = temp_path(shape.name + "-" + type + "-" + std::to_string(seed) + "-p" +
                                     std::to_string(pooling) + ".gguf");
  engine::synth::SynthOptions opts;
  opts.type = type;
  opts.seed = seed;
  opts.pooling = pooling;
  opts.threads = 1;
  auto st = engine::synth::write_synth_model(shape, opts, path);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  return path;
}

inline const char* kPython = "/usr/bin/python3";

// Logits [ids.size()][n_vocab] of the float64 reference, or empty on failure;
// with `embed`, the model's pooled, L2-normalised embedding [n_embd] instead.
inline std::vector<double> reference_logits(const std::string& model, const std::vector<int32_t>& ids,
                                            bool embed = false) {
  const std::string out = model + ".ref.bin";
  std::string cmd = std::string(kPython) + " " + (source_dir() / "tests/engine_cpu/reference_forward.py").string() +
                    (embed ? " --embed" : "") + " '" + model + "' '" + out + "'";
  for (int32_t id : ids) cmd += " " + std::to_string(id);
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << "reference failed: " << cmd;
  if (rc != 0) return {};
  std::ifstream in(out, std::ios::binary);
  std::vector<double> v;
  double d;
  while (in.read(reinterpret_cast<char*>(&d), sizeof d)) v.push_back(d);
  std::remove(out.c_str());
  return v;
}

}  // namespace llmd::test
