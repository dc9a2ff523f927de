// llmd-bench-chat-template: the cost of chat templates in the Jinja
// interpreter. For every template in a folder: the parse time (once per model
// load) and the render time of one conversation (per request): N turns of
// user/assistant text, with and without two function tools. Times are thread
// CPU time, the best of several runs, so that other load on the machine does
// not inflate them.
//
//   llmd-bench-chat-template [--template-dir DIR] [--turns N] [--runs K]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/chat/jinja_chat_template.hpp"
#include "engine/jinja/json.hpp"

namespace {

namespace fs = std::filesystem;
using namespace llmd::engine;

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

fs::path default_dir() {
  if (const char* env = std::getenv("LLMD_SHARED_DIR"); env && *env) return fs::path(env) / "templates";
  return fs::path(LLMD_SHARED_DIR_DEFAULT) / "templates";
}

const char* kTools = R"([
 {"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city.",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string",
   "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
 {"type": "function", "function": {"name": "search", "description": "Search the web",
  "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}])";

std::string conversation(int turns) {
  std::string m = R"([{"role": "system", "content": "You are a helpful assistant."})";
  for (int i = 0; i < turns; ++i) {
    m += std::string(R"(, {"role": ")") + (i % 2 ? "assistant" : "user") + R"(", "content": "Turn )" +
         std::to_string(i) + R"(: a few dozen words of ordinary text, as a real conversation would have them."})";
  }
  return m + "]";
}

// Best of `runs` of `reps` renders, in microseconds per render; < 0 if it fails.
double render_us(const JinjaChatTemplate& t, const jinja::Value& msgs, const jinja::Value& tools, int runs) {
  double best = 1e18;
  const int reps = 200;
  for (int r = 0; r < runs; ++r) {
    const double t0 = thread_cpu_us();
    for (int i = 0; i < reps; ++i) {
      if (!t.render_values(msgs, tools, true)) return -1;
    }
    best = std::min(best, (thread_cpu_us() - t0) / reps);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = default_dir();
  int turns = 20, runs = 5;
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (arg("--template-dir")) dir = argv[++i];
    else if (arg("--turns")) turns = std::atoi(argv[++i]);
    else if (arg("--runs")) runs = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: llmd-bench-chat-template [--template-dir DIR] [--turns N] [--runs K]\n");
      return 2;
    }
  }
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".jinja") files.push_back(e.path());
  }
  if (files.empty()) {
    std::fprintf(stderr, "no .jinja files in %s\n", dir.string().c_str());
    return 1;
  }
  std::sort(files.begin(), files.end());
  const auto msgs = jinja::parse_json(conversation(turns), true);
  const auto tools = jinja::parse_json(kTools, true);
  if (!msgs || !tools) return 1;
  std::printf("%-52s %10s %14s %14s\n", "template", "parse us", "render us", "+tools us");
  for (const fs::path& p : files) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    TemplateEnv env;
    env.bos_token = "<s>";
    env.eos_token = "</s>";
    double parse = 1e18;
    for (int r = 0; r < runs; ++r) {
      const double t0 = thread_cpu_us();
      auto t = JinjaChatTemplate::create(text.str(), p.filename().string(), env);
      parse = std::min(parse, thread_cpu_us() - t0);
      if (!t) parse = -1;
    }
    auto t = JinjaChatTemplate::create(text.str(), p.filename().string(), env);
    if (!t) {
      std::printf("%-52s %s\n", p.filename().string().c_str(), t.error().message.c_str());
      continue;
    }
    auto cell = [](double us) {
      char buf[32];
      if (us < 0) return std::string("refuses");
      std::snprintf(buf, sizeof buf, "%.1f", us);
      return std::string(buf);
    };
    std::printf("%-52s %10.1f %14s %14s\n", p.filename().string().c_str(), parse,
                cell(render_us(**t, *msgs, jinja::Value(), runs)).c_str(), cell(render_us(**t, *msgs, *tools, runs)).c_str());
  }
  return 0;
}
