// Renders chat templates with Python's jinja2 (render_reference.py), the
// reference the built-in templates are compared against.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat/chat_template.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::test {

struct JinjaCase {
  std::vector<engine::ChatMessage> messages;
  bool add_generation_prompt = true;
  // When set, the JSON text of the messages (any fields) instead of `messages`.
  std::string messages_json;
  std::string tools_json;  // JSON text of the tools, or empty for none
};

struct JinjaResult {
  bool ok = false;
  std::string text;  // rendering, or the error message
};

inline const char* kPython = "/usr/bin/python3";

// True when the reference renderer can run here.
inline bool jinja_available() {
  static const bool ok = std::filesystem::exists(kPython) &&
                         std::system((std::string(kPython) + " -c 'import jinja2' 2>/dev/null").c_str()) == 0;
  return ok;
}

inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Renders every case with the template text; nullopt if the renderer failed.
inline std::optional<std::vector<JinjaResult>> render_with_jinja(const std::string& template_text,
                                                                  const std::string& bos, const std::string& eos,
                                                                  long long now, const std::vector<JinjaCase>& cases) {
  char tdir[] = "/tmp/llmd-jinja-XXXXXX";
  if (!mkdtemp(tdir)) return std::nullopt;
  const std::filesystem::path dir = tdir;
  std::ofstream(dir / "template.jinja", std::ios::binary) << template_text;
  std::string req = "{\"bos_token\": " + json_string(bos) + ", \"eos_token\": " + json_string(eos) +
                    ", \"now\": " + std::to_string(now) + ", \"cases\": [";
  for (size_t i = 0; i < cases.size(); ++i) {
    req += i ? ", " : "";
    req += "{\"add_generation_prompt\": ";
    req += cases[i].add_generation_prompt ? "true" : "false";
    if (!cases[i].tools_json.empty()) req += ", \"tools\": " + cases[i].tools_json;
    req += ", \"messages\": ";
    if (!cases[i].messages_json.empty()) {
      req += cases[i].messages_json + "}";
      continue;
    }
    req += "[";
    for (size_t j = 0; j < cases[i].messages.size(); ++j) {
      req += j ? ", " : "";
      req += "{\"role\": " + json_string(cases[i].messages[j].role) +
             ", \"content\": " + json_string(cases[i].messages[j].content) + "}";
    }
    req += "]}";
  }
  req += "]}";
  std::ofstream(dir / "request.json", std::ios::binary) << req;

  const std::string script = (source_dir() / "tests" / "engine_chat" / "render_reference.py").string();
  const std::string cmd = std::string(kPython) + " '" + script + "' '" + (dir / "template.jinja").string() + "' '" +
                          (dir / "request.json").string() + "'";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (pclose(p) != 0) out.clear();
  }
  std::filesystem::remove_all(dir);
  std::vector<JinjaResult> results;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) return std::nullopt;
    const std::string head = out.substr(pos, nl - pos);
    const size_t sp = head.find(' ');
    if (sp == std::string::npos) return std::nullopt;
    const size_t len = std::strtoull(head.c_str() + sp + 1, nullptr, 10);
    if (nl + 1 + len > out.size()) return std::nullopt;
    results.push_back(JinjaResult{head.substr(0, sp) == "OK", out.substr(nl + 1, len)});
    pos = nl + 1 + len;
  }
  if (results.size() != cases.size()) return std::nullopt;
  return results;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace llmd::test
