// The greedy reference generations of stories260K (models/stories260K.reference.txt
// in the shared data): for each prompt its text, its token ids and the 64
// generated ids. Callers check LLMD_REQUIRE_SHARED_FILE first.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/shared_data.hpp"

namespace llmd::test {

struct StoriesReference {
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> gen_ids;
};

// "[1, 2, 3]" (or "1 2 3") as ids.
inline std::vector<int32_t> parse_id_list(const std::string& s) {
  std::string t;
  for (char ch : s) t += (ch == '[' || ch == ']' || ch == ',') ? ' ' : ch;
  std::istringstream in(t);
  std::vector<int32_t> out;
  int32_t v;
  while (in >> v) out.push_back(v);
  return out;
}

inline std::vector<StoriesReference> read_stories_reference() {
  std::ifstream in(shared_file("models/stories260K.reference.txt"));
  std::vector<StoriesReference> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PROMPT: ", 0) == 0) {
      cases.push_back({line.substr(8), {}, {}});
    } else if (line.rfind("PROMPT_IDS: ", 0) == 0 && !cases.empty()) {
      cases.back().prompt_ids = parse_id_list(line.substr(12));
    } else if (line.rfind("GEN_IDS: ", 0) == 0 && !cases.empty()) {
      cases.back().gen_ids = parse_id_list(line.substr(9));
    }
  }
  return cases;
}

}  // namespace llmd::test
