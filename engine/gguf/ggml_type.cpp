#include "engine/gguf/ggml_type.hpp"

#include <array>
#include <cctype>

namespace llmd::gguf {
namespace {

struct Entry {
  uint32_t id;
  GgmlTypeTraits traits;
};

// Block layouts per ggml's quantization formats (QK_K = 256 super-blocks).
constexpr std::array<Entry, 32> kTypes = {{
    {0, {"f32", 1, 4}},
    {1, {"f16", 1, 2}},
    {2, {"q4_0", 32, 18}},      // f16 d + 16 bytes of nibbles
    {3, {"q4_1", 32, 20}},      // f16 d, f16 m + 16 bytes
    {6, {"q5_0", 32, 22}},      // f16 d + 4 bytes high bits + 16 bytes
    {7, {"q5_1", 32, 24}},      // f16 d, f16 m + 4 + 16
    {8, {"q8_0", 32, 34}},      // f16 d + 32 int8
    {9, {"q8_1", 32, 36}},      // f16 d, f16 s + 32 int8
    {10, {"q2_K", 256, 84}},    // 16 scales + 64 qs + f16 d, dmin
    {11, {"q3_K", 256, 110}},   // 32 hmask + 64 qs + 12 scales + f16 d
    {12, {"q4_K", 256, 144}},   // f16 d, dmin + 12 scales + 128 qs
    {13, {"q5_K", 256, 176}},   // f16 d, dmin + 12 scales + 32 qh + 128 qs
    {14, {"q6_K", 256, 210}},   // 128 ql + 64 qh + 16 scales + f16 d
    {15, {"q8_K", 256, 292}},   // f32 d + 256 int8 + 16 int16 sums
    {16, {"iq2_xxs", 256, 66}},
    {17, {"iq2_xs", 256, 74}},
    {18, {"iq3_xxs", 256, 98}},
    {19, {"iq1_s", 256, 50}},
    {20, {"iq4_nl", 32, 18}},
    {21, {"iq3_s", 256, 110}},
    {22, {"iq2_s", 256, 82}},
    {23, {"iq4_xs", 256, 136}},
    {24, {"i8", 1, 1}},
    {25, {"i16", 1, 2}},
    {26, {"i32", 1, 4}},
    {27, {"i64", 1, 8}},
    {28, {"f64", 1, 8}},
    {29, {"iq1_m", 256, 56}},
    {30, {"bf16", 1, 2}},
    {34, {"tq1_0", 256, 54}},
    {35, {"tq2_0", 256, 66}},
    {39, {"mxfp4", 32, 17}},
}};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id) {
  for (const auto& e : kTypes)
    if (e.id == type_id) return e.traits;
  return std::nullopt;
}

std::string_view ggml_type_name(GgmlType type) {
  auto t = ggml_type_traits(static_cast<uint32_t>(type));
  return t ? t->name : std::string_view("unknown");
}

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  for (const auto& e : kTypes)
    if (iequal(e.traits.name, name)) return static_cast<GgmlType>(e.id);
  return std::nullopt;
}

std::optional<uint64_t> ggml_row_bytes(GgmlType type, uint64_t n_elems) {
  auto t = ggml_type_traits(static_cast<uint32_t>(type));
  if (!t || n_elems % t->block_elems != 0) return std::nullopt;
  uint64_t blocks = n_elems / t->block_elems;
  if (blocks > UINT64_MAX / t->block_bytes) return std::nullopt;
  return blocks * t->block_bytes;
}

}  // namespace llmd::gguf
