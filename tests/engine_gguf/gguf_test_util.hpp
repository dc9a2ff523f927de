// Helpers for GGUF tests: deep comparison of metadata values.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "engine/gguf/gguf_value.hpp"

namespace llmd::test {

// Empty when equal, else a description of the first difference.
inline std::string value_diff(const gguf::GgufValue& a, const gguf::GgufValue& b, const std::string& where = "value") {
  using gguf::GgufType;
  if (a.type() != b.type()) {
    return where + ": type " + std::string(gguf::gguf_type_name(a.type())) + " vs " +
           std::string(gguf::gguf_type_name(b.type()));
  }
  if (a.type() == GgufType::STRING) return *a.as_string() == *b.as_string() ? "" : where + ": strings differ";
  if (a.type() != GgufType::ARRAY) {
    const size_t n = gguf::gguf_scalar_size(a.type());
    return std::memcmp(a.raw_bytes(), b.raw_bytes(), n) == 0 ? "" : where + ": scalar bytes differ";
  }
  const gguf::GgufArray& x = *a.as_array();
  const gguf::GgufArray& y = *b.as_array();
  if (x.elem != y.elem) return where + ": element types differ";
  if (x.count != y.count) return where + ": counts " + std::to_string(x.count) + " vs " + std::to_string(y.count);
  if (x.raw != y.raw) return where + ": element bytes differ";
  if (x.strings != y.strings) return where + ": string elements differ";
  if (x.arrays.size() != y.arrays.size()) return where + ": nested array counts differ";
  for (size_t i = 0; i < x.arrays.size(); ++i) {
    std::string d = value_diff(x.arrays[i], y.arrays[i], where + "[" + std::to_string(i) + "]");
    if (!d.empty()) return d;
  }
  return "";
}

}  // namespace llmd::test
