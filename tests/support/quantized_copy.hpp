// A GGUF model rewritten with its matrices quantized by the project's
// quantizer and writer (tests of quantized weights on real models): every
// 2-D F32/F16 tensor whose rows are whole blocks of the type (q8_0, q4_0,
// q4_K, q5_K, q6_K) becomes that type, the other 2-D ones f16 (so a backend
// computes in f16), the rest is copied as it is.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/gguf/gguf_writer.hpp"
#include "engine/quant/dequantize.hpp"
#include "engine/quant/quantize.hpp"

namespace llmd::test {

// Writes the copy of `src` in `type` to `dst`; returns dst, or "" (with a
// test failure).
inline std::string write_quantized_copy(const std::string& src, const std::string& dst, gguf::GgmlType type) {
  const int64_t block = gguf::ggml_type_traits(static_cast<uint32_t>(type))->block_elems;
  auto f = gguf::GgufFile::open(src);
  EXPECT_TRUE(f.ok()) << f.error().message;
  if (!f.ok()) return "";
  gguf::GgufWriter w;
  for (const auto& kv : (*f)->metadata()) {
    if (kv.key != "general.alignment") w.set(kv.key, kv.value);
  }
  EXPECT_TRUE(w.set_alignment((*f)->alignment()).ok());
  for (const auto& t : (*f)->tensors()) {
    const uint8_t* data = (*f)->tensor_data(t);
    const bool matrix = t.dims.size() == 2 && (t.type == gguf::GgmlType::F32 || t.type == gguf::GgmlType::F16);
    Status st;
    if (matrix) {
      const gguf::GgmlType to = static_cast<int64_t>(t.dims[0]) % block == 0 ? type : gguf::GgmlType::F16;
      const int64_t cols = static_cast<int64_t>(t.dims[0]), rows = static_cast<int64_t>(t.rows());
      const uint64_t src_row = gguf::ggml_row_bytes(t.type, t.dims[0]).value_or(0);
      const uint64_t dst_row = gguf::ggml_row_bytes(to, t.dims[0]).value_or(0);
      std::vector<uint8_t> bytes(static_cast<size_t>(rows) * dst_row);
      std::vector<float> row(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_TRUE(quant::dequantize_row(t.type, data + r * src_row, row.data(), cols));
        EXPECT_TRUE(quant::quantize_row(to, row.data(), bytes.data() + r * dst_row, cols));
      }
      st = w.add_tensor(t.name, to, t.dims, std::move(bytes));
    } else {
      st = w.add_tensor(t.name, t.type, t.dims, std::vector<uint8_t>(data, data + t.n_bytes));
    }
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  Status st = w.write_file(dst);
  EXPECT_TRUE(st.ok()) << st.error().message;
  return st.ok() ? dst : "";
}

}  // namespace llmd::test
