// A table of corrupt files made from one valid small GGUF: each mutation is
// rejected with its own error code, and the message names the field and its
// offset. Plus: every truncation of the file, and paths that are no regular
// file (FIFO, directory, device).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/gguf/gguf_writer.hpp"

namespace llmd::gguf {
namespace {

using Bytes = std::vector<uint8_t>;

// The valid file: alignment 64, a few metadata kinds, two tensors.
Bytes base_file() {
  GgufWriter w;
  EXPECT_TRUE(w.set_alignment(64).ok());
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "tiny");
  w.set("x.aaaa", GgufValue::i32_array({1, 2, 3}));
  w.set("x.bbbb", GgufValue::string_array({"ab", "cd"}));
  EXPECT_TRUE(w.add_tensor("tensor.a", GgmlType::F32, {4, 2}, Bytes(32, 1)).ok());
  EXPECT_TRUE(w.add_tensor("tensor.b", GgmlType::Q8_0, {32}, Bytes(34, 2)).ok());
  auto b = w.to_bytes();
  EXPECT_TRUE(b.ok());
  return *b;
}

size_t find(const Bytes& b, const std::string& s) {
  auto it = std::search(b.begin(), b.end(), s.begin(), s.end());
  EXPECT_NE(it, b.end()) << s;
  return static_cast<size_t>(it - b.begin());
}

void put32(Bytes& b, size_t off, uint32_t v) { std::memcpy(b.data() + off, &v, 4); }
void put64(Bytes& b, size_t off, uint64_t v) { std::memcpy(b.data() + off, &v, 8); }

// Offsets of fields inside the base file.
struct Layout {
  size_t name_key, name_value_len, aaaa_elem_type, aaaa_count, bbbb_key, bbbb_count, alignment_value;
  size_t a_name, a_ndims, a_dim0, a_dim1, a_type, a_offset;
  size_t b_name, b_dim0, b_type, b_offset;
  explicit Layout(const Bytes& f) {
    name_key = find(f, "general.name");
    name_value_len = name_key + 12 + 4;
    aaaa_elem_type = find(f, "x.aaaa") + 6 + 4;
    aaaa_count = aaaa_elem_type + 4;
    bbbb_key = find(f, "x.bbbb");
    bbbb_count = bbbb_key + 6 + 4 + 4;
    alignment_value = find(f, "general.alignment") + 17 + 4;
    a_name = find(f, "tensor.a");
    a_ndims = a_name + 8;
    a_dim0 = a_ndims + 4;
    a_dim1 = a_dim0 + 8;
    a_type = a_dim1 + 8;
    a_offset = a_type + 4;
    b_name = find(f, "tensor.b");
    b_dim0 = b_name + 8 + 4;
    b_type = b_dim0 + 8;
    b_offset = b_type + 4;
  }
};

struct Case {
  const char* what;
  std::function<void(Bytes&, const Layout&)> mutate;
  ErrorCode code;
};

TEST(GgufCorrupt, BaseFileIsValid) {
  auto f = GgufFile::from_bytes(base_file());
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->tensors().size(), 2u);
  EXPECT_EQ((*f)->get_string("general.name"), "tiny");
}

TEST(GgufCorrupt, EachMutationHasItsError) {
  const uint64_t kMax = UINT64_MAX;
  const std::vector<Case> cases = {
      {"bad magic", [](Bytes& b, const Layout&) { b[0] = 'X'; }, errc::kBadMagic},
      {"version 1", [](Bytes& b, const Layout&) { put32(b, 4, 1); }, errc::kBadVersion},
      {"version 4", [](Bytes& b, const Layout&) { put32(b, 4, 4); }, errc::kBadVersion},
      {"big-endian version", [](Bytes& b, const Layout&) { put32(b, 4, 0x03000000); }, errc::kBadVersion},
      {"tensor count 2^64-1", [&](Bytes& b, const Layout&) { put64(b, 8, kMax); }, errc::kCountTooLarge},
      {"metadata count 2^64-1", [&](Bytes& b, const Layout&) { put64(b, 16, kMax); }, errc::kCountTooLarge},
      {"array count 2^64-1", [&](Bytes& b, const Layout& l) { put64(b, l.aaaa_count, kMax); }, errc::kCountTooLarge},
      {"string array count 2^64-1", [&](Bytes& b, const Layout& l) { put64(b, l.bbbb_count, kMax); },
       errc::kCountTooLarge},
      {"string length 2^64-1", [&](Bytes& b, const Layout& l) { put64(b, l.name_value_len, kMax); },
       errc::kStringTooLong},
      {"string length beyond the file", [](Bytes& b, const Layout& l) { put64(b, l.name_value_len, b.size() + 1); },
       errc::kStringTooLong},
      {"key length 2^64-1", [&](Bytes& b, const Layout& l) { put64(b, l.name_key - 8, kMax); },
       errc::kStringTooLong},
      {"string runs past the end", [](Bytes& b, const Layout& l) { put64(b, l.name_value_len, b.size() - 40); },
       errc::kTruncated},
      {"empty key", [](Bytes& b, const Layout& l) { put64(b, l.name_key - 8, 0); }, errc::kBadKey},
      {"duplicate key", [](Bytes& b, const Layout& l) { std::memcpy(b.data() + l.bbbb_key, "x.aaaa", 6); },
       errc::kDuplicateKey},
      {"unknown value type", [](Bytes& b, const Layout& l) { put32(b, l.name_key + 12, 13); }, errc::kBadValueType},
      {"unknown array element type", [](Bytes& b, const Layout& l) { put32(b, l.aaaa_elem_type, 99); },
       errc::kBadValueType},
      {"alignment 0", [](Bytes& b, const Layout& l) { put32(b, l.alignment_value, 0); }, errc::kBadAlignment},
      {"alignment 3", [](Bytes& b, const Layout& l) { put32(b, l.alignment_value, 3); }, errc::kBadAlignment},
      {"alignment 2^30", [](Bytes& b, const Layout& l) { put32(b, l.alignment_value, 1u << 30); },
       errc::kBadAlignment},
      {"zero dimensions", [](Bytes& b, const Layout& l) { put32(b, l.a_ndims, 0); }, errc::kBadDims},
      {"five dimensions", [](Bytes& b, const Layout& l) { put32(b, l.a_ndims, 5); }, errc::kBadDims},
      {"zero dim", [](Bytes& b, const Layout& l) { put64(b, l.a_dim1, 0); }, errc::kZeroDim},
      {"overflowing dims",
       [](Bytes& b, const Layout& l) {
         put64(b, l.a_dim0, 1ull << 40);
         put64(b, l.a_dim1, 1ull << 40);
       },
       errc::kDimOverflow},
      {"element count over 2^63",
       [](Bytes& b, const Layout& l) {
         put64(b, l.a_dim0, 1ull << 62);
         put64(b, l.a_dim1, 4);
       },
       errc::kDimOverflow},
      {"retired tensor type id", [](Bytes& b, const Layout& l) { put32(b, l.a_type, 4); }, errc::kBadTensorType},
      {"unknown tensor type id", [](Bytes& b, const Layout& l) { put32(b, l.a_type, 1000); }, errc::kBadTensorType},
      {"row not whole blocks", [](Bytes& b, const Layout& l) { put64(b, l.b_dim0, 33); }, errc::kBadTensorShape},
      {"misaligned offset", [](Bytes& b, const Layout& l) { put64(b, l.b_offset, 64 + 8); }, errc::kMisaligned},
      {"tensor offset beyond the end", [](Bytes& b, const Layout& l) { put64(b, l.b_offset, 64 * 1000); },
       errc::kOutOfBounds},
      {"tensor offset near 2^64", [](Bytes& b, const Layout& l) { put64(b, l.b_offset, UINT64_MAX - 63); },
       errc::kOutOfBounds},
      {"tensor bytes past the end", [](Bytes& b, const Layout& l) { put64(b, l.a_dim1, 100); }, errc::kOutOfBounds},
      {"duplicate tensor name", [](Bytes& b, const Layout& l) { std::memcpy(b.data() + l.b_name, "tensor.a", 8); },
       errc::kDuplicateTensor},
  };
  const Bytes base = base_file();
  const Layout layout(base);
  for (const Case& c : cases) {
    Bytes b = base;
    c.mutate(b, layout);
    auto f = GgufFile::from_bytes(b, "corrupt.gguf");
    ASSERT_FALSE(f.ok()) << c.what << " was accepted";
    EXPECT_EQ(f.error().code, c.code) << c.what << ": " << f.error().message;
    EXPECT_NE(f.error().message.find(" at offset "), std::string::npos) << c.what << ": " << f.error().message;
    EXPECT_NE(f.error().message.find("corrupt.gguf"), std::string::npos) << c.what;
  }
}

TEST(GgufCorrupt, WriterMadeOddities) {
  GgufWriter w;
  w.set("general.alignment", GgufValue::u64(64));
  auto f = GgufFile::from_bytes(*w.to_bytes());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, errc::kBadAlignment);

  GgufValue deep = GgufValue::i32_array({1});
  for (int i = 0; i < kMaxArrayNesting; ++i) {
    GgufArray a;
    a.elem = GgufType::ARRAY;
    a.count = 1;
    a.arrays = {deep};
    deep = GgufValue::array(std::move(a));
  }
  GgufWriter w2;
  w2.set("deep", deep);
  auto f2 = GgufFile::from_bytes(*w2.to_bytes());
  ASSERT_FALSE(f2.ok());
  EXPECT_EQ(f2.error().code, errc::kNestingTooDeep);

  auto f3 = GgufFile::from_bytes({});
  ASSERT_FALSE(f3.ok());
  EXPECT_EQ(f3.error().code, errc::kTruncated);
}

// Every prefix of the valid file that ends before the last tensor byte is
// rejected (the padding after it may go). Where the cut falls
// decides which check sees it first: the file ending inside a field
// (truncated), a declared count or length that the shortened file cannot
// hold, or tensor data past the end.
TEST(GgufCorrupt, TruncatedAtEveryOffset) {
  const Bytes base = base_file();
  auto whole = GgufFile::from_bytes(base);
  ASSERT_TRUE(whole.ok());
  const GgufTensorInfo& last = (*whole)->tensors().back();
  const size_t end = (*whole)->data_offset() + last.offset + last.n_bytes;
  ASSERT_LT(end, base.size());
  EXPECT_TRUE(GgufFile::from_bytes(Bytes(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(end))).ok());
  size_t n_truncated = 0;
  for (size_t len = 0; len < end; ++len) {
    Bytes b(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(len));
    auto f = GgufFile::from_bytes(std::move(b));
    ASSERT_FALSE(f.ok()) << "prefix of " << len << " bytes was accepted";
    const ErrorCode code = f.error().code;
    EXPECT_TRUE(code == errc::kTruncated || code == errc::kCountTooLarge || code == errc::kOutOfBounds)
        << "prefix " << len << ": " << code << ": " << f.error().message;
    EXPECT_NE(f.error().message.find(" at offset "), std::string::npos) << f.error().message;
    n_truncated += code == errc::kTruncated;
  }
  EXPECT_GT(n_truncated, base.size() / 2);
}

class GgufFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("llmd-gguf-corrupt-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(GgufFiles, NoRegularFileIsOpened) {
  const auto fifo = dir_ / "fifo.gguf";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto f = GgufFile::open(fifo.string());  // must not block waiting for a writer
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, errc::kNotRegularFile);
  EXPECT_NE(f.error().message.find("FIFO"), std::string::npos);

  auto d = GgufFile::open(dir_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, errc::kNotRegularFile);
  EXPECT_NE(d.error().message.find("directory"), std::string::npos);

  if (std::filesystem::exists("/dev/null")) {
    auto n = GgufFile::open("/dev/null");
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.error().code, errc::kNotRegularFile);
  }

  auto missing = GgufFile::open((dir_ / "absent.gguf").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, errc::kIo);

  const auto empty = dir_ / "empty.gguf";
  std::ofstream(empty).close();
  auto e = GgufFile::open(empty.string());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, errc::kTruncated);

  const auto good = dir_ / "good.gguf";
  const Bytes base = base_file();
  std::ofstream(good, std::ios::binary).write(reinterpret_cast<const char*>(base.data()),
                                              static_cast<std::streamsize>(base.size()));
  auto g = GgufFile::open(good.string());
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ((*g)->tensors().size(), 2u);
}

}  // namespace
}  // namespace llmd::gguf
