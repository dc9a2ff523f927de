#include "models/model_files.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "engine/gguf/ggml_type.hpp"
#include "engine/gguf/gguf_reader.hpp"

namespace llmd::models {
namespace fs = std::filesystem;

namespace {

bool inside(const fs::path& file, const fs::path& dir) {
  auto f = file.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++f) {
    if (d->empty()) continue;  // trailing separator
    if (f == file.end() || *f != *d) return false;
  }
  return f != file.end();
}

ModelFile describe(const fs::path& path, uint64_t bytes) {
  ModelFile m;
  m.path = path;
  m.bytes = bytes;
  auto f = gguf::GgufFile::open(path.string());
  if (!f) {
    m.error = f.error().message;
    return m;
  }
  m.architecture = (*f)->get_string("general.architecture").value_or("");
  std::map<gguf::GgmlType, uint64_t> by_type;  // elements per type among matrices
  for (const auto& t : (*f)->tensors()) {
    m.parameters += t.n_elements;
    if (t.dims.size() >= 2) by_type[t.type] += t.n_elements;
  }
  auto most = std::max_element(by_type.begin(), by_type.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  if (most != by_type.end()) m.quantization = std::string(gguf::ggml_type_name(most->first));
  return m;
}

}  // namespace

Result<fs::path> confine_model_path(const fs::path& path, const std::vector<fs::path>& dirs) {
  if (path.empty()) return Error(ErrorCode::path_not_file, "the path is empty");
  if (dirs.empty()) {
    return Error(ErrorCode::path_not_allowed, "no model directories are configured ([paths] model_dirs)");
  }
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  if (ec) return Error(ErrorCode::path_not_file, "cannot resolve '" + path.string() + "': " + ec.message());
  bool allowed = false;
  for (const auto& d : dirs) {
    const fs::path dir = fs::weakly_canonical(d, ec);
    if (!ec && inside(real, dir)) allowed = true;
  }
  if (!allowed) {
    std::string list;
    for (const auto& d : dirs) list += (list.empty() ? "" : ", ") + d.string();
    return Error(ErrorCode::path_not_allowed, "'" + path.string() + "' is outside the model directories (" + list + ")");
  }
  const fs::file_status st = fs::status(real, ec);
  if (ec || !fs::is_regular_file(st)) {
    return Error(ErrorCode::path_not_file, "'" + path.string() + "' is not a regular file");
  }
  return real;
}

std::vector<ModelFile> list_model_files(const std::vector<fs::path>& dirs, size_t limit) {
  std::set<fs::path> seen;
  std::vector<ModelFile> out;
  for (const auto& d : dirs) {
    std::error_code ec;
    const fs::path dir = fs::weakly_canonical(d, ec);
    if (ec) continue;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end && out.size() < limit; it.increment(ec)) {
      if (it->path().extension() != ".gguf") continue;
      auto real = confine_model_path(it->path(), dirs);
      if (!real || !seen.insert(*real).second) continue;
      std::error_code size_ec;
      const uint64_t bytes = fs::file_size(*real, size_ec);
      out.push_back(describe(*real, size_ec ? 0 : bytes));
    }
  }
  std::sort(out.begin(), out.end(), [](const ModelFile& a, const ModelFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace llmd::models
