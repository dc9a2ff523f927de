// Tensor element types of the GGUF format (ggml's type ids) and their block layouts.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace llmd::gguf {

// Type ids as stored in GGUF tensor infos. Gaps are ids that were retired upstream.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct GgmlTypeTraits {
  std::string_view name;   // "q4_K", "f16", ...
  uint32_t block_elems;    // elements per block (1 for plain types)
  uint32_t block_bytes;    // bytes per block
};

// Traits of a known type id; nullopt for ids this build does not know.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id);

// Name for logs and errors ("q8_0"); "unknown(N)" for unknown ids.
std::string_view ggml_type_name(GgmlType type);

// Parses a name as printed by ggml_type_name (case-insensitive).
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

// Bytes of one row of `n_elems` elements; nullopt if n_elems is not a whole
// number of blocks or the type is unknown.
std::optional<uint64_t> ggml_row_bytes(GgmlType type, uint64_t n_elems);

}  // namespace llmd::gguf
