// Writer -> reader round trips: every metadata value type (scalars, strings,
// arrays of each, nested arrays, empty arrays), tensor infos and data, GGUF
// v2 and v3, custom alignment, in memory and through a file on disk.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/gguf/gguf_writer.hpp"
#include "tests/engine_gguf/gguf_test_util.hpp"

namespace llmd::gguf {
namespace {

template <typename T>
GgufValue packed_array(GgufType t, const std::vector<T>& v) {
  GgufArray a;
  a.elem = t;
  a.count = v.size();
  a.raw.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(a.raw.data(), v.data(), a.raw.size());
  return GgufValue::array(std::move(a));
}

GgufValue nested(std::vector<GgufValue> items) {
  GgufArray a;
  a.elem = GgufType::ARRAY;
  a.count = items.size();
  a.arrays = std::move(items);
  return GgufValue::array(std::move(a));
}

// One entry of every type, with edge values.
std::vector<std::pair<std::string, GgufValue>> all_types() {
  std::vector<std::pair<std::string, GgufValue>> kv;
  kv.emplace_back("t.u8", GgufValue::u8(255));
  kv.emplace_back("t.i8", GgufValue::i8(-128));
  kv.emplace_back("t.u16", GgufValue::u16(65535));
  kv.emplace_back("t.i16", GgufValue::i16(-32768));
  kv.emplace_back("t.u32", GgufValue::u32(4294967295u));
  kv.emplace_back("t.i32", GgufValue::i32(std::numeric_limits<int32_t>::min()));
  kv.emplace_back("t.f32", GgufValue::f32(-1.5e-7f));
  kv.emplace_back("t.bool.true", GgufValue::boolean(true));
  kv.emplace_back("t.bool.false", GgufValue::boolean(false));
  kv.emplace_back("t.string", GgufValue::string("h\xC3\xA9llo \n\t\"world\" \xF0\x9F\xA6\x99"));
  kv.emplace_back("t.string.empty", GgufValue::string(""));
  kv.emplace_back("t.string.nul", GgufValue::string(std::string("a\0b", 3)));
  kv.emplace_back("t.u64", GgufValue::u64(std::numeric_limits<uint64_t>::max()));
  kv.emplace_back("t.i64", GgufValue::i64(std::numeric_limits<int64_t>::min()));
  kv.emplace_back("t.f64", GgufValue::f64(3.141592653589793));
  kv.emplace_back("t.f32.nan", GgufValue::f32(std::numeric_limits<float>::quiet_NaN()));
  kv.emplace_back("a.u8", packed_array<uint8_t>(GgufType::U8, {0, 1, 255}));
  kv.emplace_back("a.i8", packed_array<int8_t>(GgufType::I8, {-1, 0, 127}));
  kv.emplace_back("a.u16", packed_array<uint16_t>(GgufType::U16, {1, 65535}));
  kv.emplace_back("a.i16", packed_array<int16_t>(GgufType::I16, {-2, 2}));
  kv.emplace_back("a.u32", packed_array<uint32_t>(GgufType::U32, {7, 8, 9}));
  kv.emplace_back("a.i32", GgufValue::i32_array({-5, 0, 5}));
  kv.emplace_back("a.f32", GgufValue::f32_array({0.5f, -0.25f}));
  kv.emplace_back("a.bool", packed_array<uint8_t>(GgufType::BOOL, {1, 0, 1}));
  kv.emplace_back("a.string", GgufValue::string_array({"one", "", "thr\xC3\xA9\xC3\xA9"}));
  kv.emplace_back("a.u64", packed_array<uint64_t>(GgufType::U64, {std::numeric_limits<uint64_t>::max()}));
  kv.emplace_back("a.i64", packed_array<int64_t>(GgufType::I64, {-9, 9}));
  kv.emplace_back("a.f64", packed_array<double>(GgufType::F64, {1e300, -1e-300}));
  kv.emplace_back("a.empty.u32", packed_array<uint32_t>(GgufType::U32, {}));
  kv.emplace_back("a.empty.string", GgufValue::string_array({}));
  kv.emplace_back("a.nested",
                  nested({GgufValue::i32_array({1, 2}), GgufValue::string_array({"x"}),
                          nested({GgufValue::f32_array({3.0f}), nested({})}), packed_array<uint8_t>(GgufType::U8, {})}));
  kv.emplace_back("a.empty.nested", nested({}));
  return kv;
}

TEST(GgufRoundTrip, EveryMetadataType) {
  for (uint32_t version : {2u, 3u}) {
    GgufWriter w(version);
    const auto kv = all_types();
    for (const auto& [k, v] : kv) w.set(k, v);
    auto bytes = w.to_bytes();
    ASSERT_TRUE(bytes.ok());
    auto f = GgufFile::from_bytes(std::move(*bytes));
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ((*f)->version(), version);
    ASSERT_EQ((*f)->metadata().size(), kv.size());
    for (size_t i = 0; i < kv.size(); ++i) {
      EXPECT_EQ((*f)->metadata()[i].key, kv[i].first) << "file order is kept";
      const GgufValue* got = (*f)->find(kv[i].first);
      ASSERT_NE(got, nullptr) << kv[i].first;
      EXPECT_EQ(test::value_diff(*got, kv[i].second, kv[i].first), "");
    }
    EXPECT_EQ((*f)->get_string("t.string.nul"), std::string("a\0b", 3));
    EXPECT_EQ((*f)->get_u32("t.u32"), 4294967295u);
    EXPECT_EQ((*f)->get_i64("t.i64"), std::numeric_limits<int64_t>::min());
    EXPECT_EQ((*f)->get_bool("t.bool.true"), true);
    EXPECT_FLOAT_EQ(*(*f)->get_f32("t.f32"), -1.5e-7f);
    EXPECT_FALSE((*f)->get_u32("t.i8").has_value()) << "negative values are no u32";
    EXPECT_FALSE((*f)->get_string("t.u8").has_value());
    EXPECT_EQ((*f)->find("absent"), nullptr);
    EXPECT_TRUE((*f)->tensors().empty());
  }
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST(GgufRoundTrip, TensorsWithAlignment) {
  for (uint32_t alignment : {1u, 32u, 64u, 4096u}) {
    GgufWriter w;
    ASSERT_TRUE(w.set_alignment(alignment).ok());
    w.set_string("general.architecture", "llama");
    ASSERT_TRUE(w.add_tensor("a", GgmlType::F32, {4, 3}, pattern(48, 1)).ok());
    ASSERT_TRUE(w.add_tensor("b", GgmlType::Q8_0, {64}, pattern(68, 2)).ok());
    ASSERT_TRUE(w.add_tensor("c", GgmlType::F16, {3}, pattern(6, 3)).ok());
    ASSERT_TRUE(w.add_tensor("d", GgmlType::Q4_K, {256, 2}, pattern(288, 4)).ok());
    EXPECT_FALSE(w.add_tensor("a", GgmlType::F32, {1}, pattern(4, 0)).ok()) << "duplicate name";
    EXPECT_FALSE(w.add_tensor("e", GgmlType::Q8_0, {33}, pattern(0, 0)).ok()) << "not whole blocks";
    EXPECT_FALSE(w.add_tensor("f", GgmlType::F32, {4}, pattern(15, 0)).ok()) << "wrong byte count";
    auto bytes = w.to_bytes();
    ASSERT_TRUE(bytes.ok());
    auto f = GgufFile::from_bytes(*bytes);
    ASSERT_TRUE(f.ok()) << f.error().message;
    const GgufFile& g = **f;
    EXPECT_EQ(g.alignment(), alignment);
    EXPECT_EQ(g.data_offset() % alignment, 0u);
    ASSERT_EQ(g.tensors().size(), 4u);
    const struct {
      const char* name;
      GgmlType type;
      std::vector<uint64_t> dims;
      size_t n_bytes;
      uint8_t seed;
    } want[] = {{"a", GgmlType::F32, {4, 3}, 48, 1},
                {"b", GgmlType::Q8_0, {64}, 68, 2},
                {"c", GgmlType::F16, {3}, 6, 3},
                {"d", GgmlType::Q4_K, {256, 2}, 288, 4}};
    for (const auto& t : want) {
      const GgufTensorInfo* info = g.find_tensor(t.name);
      ASSERT_NE(info, nullptr) << t.name;
      EXPECT_EQ(info->type, t.type);
      EXPECT_EQ(info->dims, t.dims);
      EXPECT_EQ(info->n_bytes, t.n_bytes);
      EXPECT_EQ(info->offset % alignment, 0u);
      const std::vector<uint8_t> expect = pattern(t.n_bytes, t.seed);
      EXPECT_EQ(std::memcmp(g.tensor_data(*info), expect.data(), t.n_bytes), 0) << t.name;
    }
    EXPECT_EQ(g.find_tensor("d")->rows(), 2u);
  }
}

TEST(GgufRoundTrip, ThroughAFileOnDisk) {
  const auto dir = std::filesystem::temp_directory_path() / ("llmd-gguf-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "model.gguf").string();
  GgufWriter w;
  for (const auto& [k, v] : all_types()) w.set(k, v);
  ASSERT_TRUE(w.add_tensor("big", GgmlType::F32, {1024, 64}, [](uint8_t* dst, uint64_t n) {
                 for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(i % 251);
               }).ok());
  ASSERT_TRUE(w.write_file(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)->metadata().size(), all_types().size());
  const GgufTensorInfo* t = (*f)->find_tensor("big");
  ASSERT_NE(t, nullptr);
  const uint8_t* d = (*f)->tensor_data(*t);
  bool same = true;
  for (uint64_t i = 0; i < t->n_bytes; ++i) same &= d[i] == static_cast<uint8_t>(i % 251);
  EXPECT_TRUE(same);
  // The same bytes in memory and on disk.
  auto mem = w.to_bytes();
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ(mem->size(), (*f)->file_size());
  std::filesystem::remove_all(dir);
}

TEST(GgufRoundTrip, WriterRejectsBadInput) {
  GgufWriter w;
  EXPECT_FALSE(w.set_alignment(0).ok());
  EXPECT_FALSE(w.set_alignment(3).ok());
  EXPECT_FALSE(w.set_alignment(1u << 30).ok());
  EXPECT_FALSE(w.add_tensor("z", GgmlType::F32, {4, 0}, std::vector<uint8_t>{}).ok());
  EXPECT_FALSE(w.add_tensor("z", GgmlType::F32, {}, std::vector<uint8_t>{}).ok());
  EXPECT_FALSE(w.add_tensor("z", GgmlType::F32, {1u << 31, 1u << 31, 1u << 31, 1u << 31}, nullptr).ok());
  w.set_u32("k", 1);
  w.set_u32("k", 2);  // replaces
  EXPECT_EQ(w.metadata().size(), 1u);
  EXPECT_TRUE(w.remove("k"));
  EXPECT_FALSE(w.remove("k"));
}

}  // namespace
}  // namespace llmd::gguf
