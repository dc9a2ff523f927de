#include "tools/llmctl/table.hpp"

#include <algorithm>

namespace llmd::llmctl {
namespace {

// Display width: counts UTF-8 code points, not bytes.
size_t width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

void pad(std::string& out, const std::string& s, size_t w) {
  out += s;
  for (size_t i = width(s); i < w; ++i) out += ' ';
}

}  // namespace

std::string Table::render() const {
  std::vector<size_t> w(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) w[i] = width(headers_[i]);
  for (const auto& r : rows_) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(r[i]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < w.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      if (i + 1 == w.size()) out += cell;
      else pad(out, cell, w[i] + 2);
    }
    out += '\n';
  };
  line(headers_);
  for (const auto& r : rows_) line(r);
  return out;
}

void Table::print(std::FILE* out) const { std::fputs(render().c_str(), out); }

std::string render_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t w = 0;
  for (const auto& f : fields) w = std::max(w, width(f.first));
  std::string out;
  for (const auto& [k, v] : fields) {
    pad(out, k + ":", w + 2);
    out += v;
    out += '\n';
  }
  return out;
}

void print_fields(std::FILE* out, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::fputs(render_fields(fields).c_str(), out);
}

}  // namespace llmd::llmctl
