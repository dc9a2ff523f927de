// Test helpers: synthetic models written to the test's temporary folder, and
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

#include "engine/synth/synth_model.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::test {

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

// Writes a synthetic model of `shape` and `type` (cached per name within a run).
inline std::string synth_model_file(const engine::synth::SynthShape& shape, const std::string& type,
                                    uint64_t seed = 1) {
  const std::string path = temp_path("llmd-" + shape.name + "-" + type + "-" + std::to_string(seed) + ".gguf");
  engine::synth::SynthOptions opts;
  opts.type = type;
  opts.seed = seed;
  opts.threads = 1;
  auto st = engine::synth::write_synth_model(shape, opts, path);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  return path;
}

inline const char* kPython = "/usr/bin/python3";

// Logits [ids.size()][n_vocab] of the float64 reference, or empty on failure.
inline std::vector<double> reference_logits(const std::string& model, const std::vector<int32_t>& ids) {
  const std::string out = model + ".ref.bin";
  std::string cmd = std::string(kPython) + " " + (source_dir() / "tests/engine_cpu/reference_forward.py").string() +
                    " '" + model + "' '" + out + "'";
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
