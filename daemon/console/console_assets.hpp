// The web admin console's files, embedded into the binary at build time
// (console/CMakeLists.txt generates the definition of embedded_assets()).
#pragma once

#include <string_view>
#include <vector>

namespace llmd::console {

struct EmbeddedAsset {
  std::string_view name;   // file name as served under /admin/assets/ ("app.js")
  std::string_view bytes;  // the file's content, unchanged
};

// Every embedded file; index.html among them. Static storage, never empty.
const std::vector<EmbeddedAsset>& embedded_assets();

// The asset called `name`, or nullptr.
const EmbeddedAsset* find_asset(std::string_view name);

// The Content-Type for a file name by its extension.
std::string_view content_type_for(std::string_view name);

}  // namespace llmd::console
