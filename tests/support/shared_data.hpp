// Locating the optional reference data folder (../shared beside the repository).
// Tests that need it call LLMD_REQUIRE_SHARED_FILE, which skips with a message when absent.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace llmd::test {

// LLMD_SHARED_DIR from the environment, else the folder beside the source tree.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("LLMD_SHARED_DIR"); env && *env) return env;
#ifdef LLMD_SHARED_DIR_DEFAULT
  return LLMD_SHARED_DIR_DEFAULT;
#else
  return "../shared";
#endif
}

inline std::filesystem::path shared_file(const std::string& rel) { return shared_dir() / rel; }

inline std::filesystem::path source_dir() {
#ifdef LLMD_SOURCE_DIR
  return LLMD_SOURCE_DIR;
#else
  return ".";
#endif
}

inline std::filesystem::path binary_dir() {
#ifdef LLMD_BINARY_DIR
  return LLMD_BINARY_DIR;
#else
  return "build";
#endif
}

}  // namespace llmd::test

// Skips the current test when a reference file is missing.
#define LLMD_REQUIRE_SHARED_FILE(rel)                                                      \
  do {                                                                                     \
    if (!std::filesystem::exists(::llmd::test::shared_file(rel))) {                        \
      GTEST_SKIP() << "reference file " << ::llmd::test::shared_file(rel).string()         \
                   << " is absent (set LLMD_SHARED_DIR); skipping";                        \
    }                                                                                      \
  } while (0)
