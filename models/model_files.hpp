// Model files on disk: the confinement rule (a model's path must lie inside
// one of the configured model directories once every symlink is resolved)
// and the listing an admin picks new models from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace llmd::models {

// The canonical path of `path` when it names a regular file inside one of
// `dirs` (canonical themselves) after resolving symlinks. Errors:
// path_not_allowed (outside every directory, or none configured),
// path_not_file (missing, a directory, unreadable).
Result<std::filesystem::path> confine_model_path(const std::filesystem::path& path,
                                                 const std::vector<std::filesystem::path>& dirs);

struct ModelFile {
  std::filesystem::path path;  // canonical
  uint64_t bytes = 0;
  std::string architecture;    // general.architecture ("" when the header is not a valid GGUF)
  std::string quantization;    // the most common weight type of its matrices ("Q4_K", "F16", ...)
  uint64_t parameters = 0;     // elements of every tensor
  std::string error;           // why the file could not be read as GGUF ("" when it could)
};

// Every *.gguf file below `dirs` (recursively, symlinks that stay inside a
// directory included), sorted by path; at most `limit` entries.
std::vector<ModelFile> list_model_files(const std::vector<std::filesystem::path>& dirs, size_t limit = 10000);

}  // namespace llmd::models
