// Fuzz target: the GGUF reader (engine/gguf) over an in-memory image, then
// what loading a model reads from it first: the typed metadata lookups and
// the tokenizer built from tokenizer.ggml.*. Invariant: every tensor the
// reader accepts lies inside the image.
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llmd;
  std::vector<std::uint8_t> bytes(data, data + size);
  auto file = gguf::GgufFile::from_bytes(std::move(bytes), "fuzz.gguf");
  if (!file) {
    fuzz_check(!file.error().message.empty());
    return 0;
  }
  const gguf::GgufFile& f = **file;
  // Without tensors the data section may start past the end (nothing is read there).
  if (!f.tensors().empty()) fuzz_check(f.data_offset() <= f.file_size());
  for (const auto& t : f.tensors()) {
    fuzz_check(t.offset <= f.file_size() - f.data_offset());
    fuzz_check(t.n_bytes <= f.file_size() - f.data_offset() - t.offset);
    fuzz_check(f.find_tensor(t.name) != nullptr);
  }
  for (const auto& kv : f.metadata()) {
    (void)f.get_string(kv.key);
    (void)f.get_u32(kv.key);
    (void)f.get_i64(kv.key);
    (void)f.get_f32(kv.key);
    (void)f.get_bool(kv.key);
  }
  auto tok = engine::Tokenizer::from_gguf(f);
  if (tok) {
    auto ids = (*tok)->encode("Hello, world! <s> 123 \xe2\x96\x81 \xff", true, true);
    for (auto id : ids) fuzz_check(id >= 0 && id < (*tok)->n_vocab());
    (void)(*tok)->decode(ids);
  }
  return 0;
}
