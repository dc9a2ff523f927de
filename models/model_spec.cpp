#include "models/model_spec.hpp"

#include <algorithm>

namespace llmd::models {

std::string_view to_string(ModelSource s) { return s == ModelSource::config ? "config" : "api"; }

bool valid_model_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || id.front() == '/' || id.back() == '/') return false;
  return std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-' || ch == ':' || ch == '/';
  });
}

}  // namespace llmd::models
