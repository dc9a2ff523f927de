// The entry point every fuzz target defines (libFuzzer's interface). Built
// with -DLLMD_FUZZ=ON it is driven by libFuzzer; in the normal build the same
// source is linked with replay_main.cpp, which feeds it every file of the
// target's committed corpus (the FuzzCorpus.* tests).
//
// A target returns 0 for any input. A finding is a crash, a sanitizer
// report, a leak, a hang, or a broken invariant the target checks with
// fuzz_check() (which aborts so that both drivers report it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Optional: one-time set-up before the first input (outside the per-input
// timeout). Both drivers call it when a target defines it.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace llmd::fuzz {

[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", file, line, what);
  std::abort();
}

}  // namespace llmd::fuzz

#define fuzz_check(cond) \
  do { \
    if (!(cond)) ::llmd::fuzz::fail(#cond, __FILE__, __LINE__); \
  } while (0)
