// Aligned text tables for llmctl's output.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace llmd::llmctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // The header line and one line per row, columns padded to their widest cell.
  std::string render() const;
  void print(std::FILE* out) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "key: value" lines with the keys aligned.
std::string render_fields(const std::vector<std::pair<std::string, std::string>>& fields);
void print_fields(std::FILE* out, const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace llmd::llmctl
