#include "daemon/console/console_assets.hpp"

namespace llmd::console {

const EmbeddedAsset* find_asset(std::string_view name) {
  for (const EmbeddedAsset& a : embedded_assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string_view content_type_for(std::string_view name) {
  auto ends = [name](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

}  // namespace llmd::console
