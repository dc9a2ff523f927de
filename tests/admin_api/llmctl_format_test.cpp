// llmctl's views of the model manager: sizes, the tables of models, devices
// and model files, a model's fields, the progress bar and the wait for a load.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <deque>
#include <string>
#include <vector>

#include "tools/llmctl/load_progress.hpp"
#include "tools/llmctl/model_format.hpp"

namespace llmd::llmctl {
namespace {

namespace json = boost::json;

json::value parse(const std::string& text) { return json::parse(text); }

// Helpers that take a field by pointer, called on a parsed literal.
template <typename F>
auto on(F f, const std::string& text) {
  json::value v = parse(text);
  return f(&v);
}

constexpr uint64_t GiB = uint64_t{1} << 30;
constexpr uint64_t MiB = uint64_t{1} << 20;

TEST(LlmctlFormat, HumanBytes) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1024), "1.0 KiB");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(640 * MiB), "640.0 MiB");
  EXPECT_EQ(human_bytes(GiB - 1), "1.0 GiB");  // not "1024.0 MiB"
  EXPECT_EQ(human_bytes(80 * GiB), "80.0 GiB");
  EXPECT_EQ(human_bytes(uint64_t{7} * GiB + 800 * MiB), "7.8 GiB");
  EXPECT_EQ(human_bytes(uint64_t{3} << 40), "3.0 TiB");
  EXPECT_EQ(human_bytes(UINT64_MAX), "16.0 EiB");
}

TEST(LlmctlFormat, ParametersAndOddFieldTypes) {
  EXPECT_EQ(parameters_of(nullptr), "-");
  EXPECT_EQ(on(parameters_of, "null"), "-");
  EXPECT_EQ(on(parameters_of, "999"), "999");
  EXPECT_EQ(on(parameters_of, "260000"), "260K");
  EXPECT_EQ(on(parameters_of, "1100048384"), "1.1B");
  EXPECT_EQ(on(parameters_of, "8030261248"), "8.0B");
  EXPECT_EQ(on(parameters_of, "70553706496"), "70.6B");
  EXPECT_EQ(on(parameters_of, "\"8B\""), "8B");
  EXPECT_EQ(on(bytes_of, "-5"), "-");
  EXPECT_EQ(on(bytes_of, "\"big\""), "-");
  EXPECT_EQ(on(bytes_of, "1048576.0"), "1.0 MiB");
  EXPECT_EQ(on(uint_of, "1.5"), std::nullopt);
  EXPECT_EQ(on(uint_of, "18446744073709551615"), UINT64_MAX);
}

TEST(LlmctlFormat, ListAnswersWithoutDataAreAnErrorNotACrash) {
  for (const char* bad : {"[]", "{}", R"({"data":{}})", "null", "3"}) {
    auto d = data_of(parse(bad));
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.error().code, ErrorCode::bad_answer);
  }
  EXPECT_TRUE(data_of(parse(R"({"data":[]})")).ok());
  EXPECT_FALSE(object_of(parse("[]")).ok());
}

const char* const kModels = R"({"data":[
  {"id":"llama-3-8b","path":"/m/llama.gguf","aliases":["llama"],"state":"ready","device":"cuda:0","pinned":true,
   "keep_alive_s":0,"source":"config","memory":{"estimate":9000000000,"actual":8589934592},
   "progress":{"bytes_done":4920000000,"bytes_total":4920000000},"requests":{"running":3,"waiting":1},
   "loaded_at":1700000000,"last_used_at":1700000600,"error":null},
  {"id":"qwen","path":"/m/qwen.gguf","aliases":[],"state":"loading","device":"cuda:1","pinned":false,
   "keep_alive_s":300,"source":"api","memory":{"estimate":2147483648,"actual":null},
   "progress":{"bytes_done":536870912,"bytes_total":2147483648},"requests":{"running":0,"waiting":0},
   "loaded_at":null,"last_used_at":null,"error":null},
  {"id":"broken","state":"failed","error":"bad magic"},
  "not an object"
]})";

TEST(LlmctlFormat, ModelsTable) {
  json::value answer = parse(kModels);
  auto data = data_of(answer);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(models_table(**data).render(),
            "ID          STATE        DEVICE  MEMORY    RUNNING  WAITING  PINNED  SOURCE  LAST USED\n"
            "llama-3-8b  ready        cuda:0  8.0 GiB   3        1        yes     config  2023-11-14 22:23\n"
            "qwen        loading 25%  cuda:1  ~2.0 GiB  0        0        no      api     -\n"
            "broken      failed       -       -         -        -        -       -       -\n");
}

TEST(LlmctlFormat, ModelFields) {
  json::value v = parse(kModels);
  const auto& models = v.as_object().at("data").as_array();
  std::string loading = render_fields(model_fields(models[1].as_object()));
  EXPECT_EQ(loading,
            "id:              qwen\n"
            "path:            /m/qwen.gguf\n"
            "aliases:         -\n"
            "state:           loading\n"
            "device:          cuda:1\n"
            "pinned:          no\n"
            "keep alive:      300 s\n"
            "source:          api\n"
            "memory estimate: 2.0 GiB\n"
            "memory used:     -\n"
            "progress:        512.0 MiB of 2.0 GiB (25%)\n"
            "requests:        0 running, 0 waiting\n"
            "loaded:          -\n"
            "last used:       -\n");
  std::string ready = render_fields(model_fields(models[0].as_object()));
  EXPECT_NE(ready.find("aliases:         llama\n"), std::string::npos) << ready;
  EXPECT_NE(ready.find("keep alive:      0 (only under memory pressure)\n"), std::string::npos) << ready;
  EXPECT_EQ(ready.find("progress:"), std::string::npos) << ready;  // only while loading
  std::string failed = render_fields(model_fields(models[2].as_object()));
  EXPECT_NE(failed.find("error:      bad magic\n"), std::string::npos) << failed;
}

TEST(LlmctlFormat, DevicesTable) {
  auto v = parse(R"({"data":[
    {"id":"cuda:0","kind":"cuda","name":"NVIDIA H100 80GB HBM3","memory_total":85520809984,
     "memory_budget":76968728985,"memory_reserved":9663676416,"models":["llama-3-8b","qwen"]},
    {"id":"cpu","kind":"cpu","name":"host","memory_total":137438953472,"memory_budget":68719476736,
     "memory_reserved":0,"models":[]},
    {"id":"cpu:1","kind":"cpu","memory_budget":1,"memory_reserved":2}
  ]})");
  EXPECT_EQ(devices_table(**data_of(v)).render(),
            "ID      KIND  NAME                   TOTAL      BUDGET    RESERVED  FREE      MODELS\n"
            "cuda:0  cuda  NVIDIA H100 80GB HBM3  79.6 GiB   71.7 GiB  9.0 GiB   62.7 GiB  llama-3-8b,qwen\n"
            "cpu     cpu   host                   128.0 GiB  64.0 GiB  0 B       64.0 GiB  -\n"
            "cpu:1   cpu   -                      -          1 B       2 B       0 B       -\n");
}

TEST(LlmctlFormat, ModelFilesTable) {
  auto v = parse(R"({"data":[
    {"path":"/srv/models/stories260K.gguf","bytes":1185376,"architecture":"llama","quantization":"F32",
     "parameters":260000},
    {"path":"/srv/models/odd.gguf","bytes":null,"architecture":null,"quantization":null,"parameters":null}
  ]})");
  EXPECT_EQ(model_files_table(**data_of(v)).render(),
            "PATH                          SIZE     ARCHITECTURE  QUANTIZATION  PARAMETERS\n"
            "/srv/models/stories260K.gguf  1.1 MiB  llama         F32           260K\n"
            "/srv/models/odd.gguf          -        -             -             -\n");
}

LoadProgress progress(const std::string& state, uint64_t done, uint64_t total) {
  return LoadProgress{"llama", state, "cuda:0", done, total};
}

TEST(LlmctlProgress, Line) {
  EXPECT_EQ(progress_line(progress("loading", 0, 0)), "loading llama  (size not known yet)");
  EXPECT_EQ(progress_line(progress("loading", 2 * GiB, 8 * GiB), 20),
            "loading llama  [#####...............]  25%  2.0 GiB / 8.0 GiB");
  EXPECT_EQ(progress_line(progress("loading", 9 * GiB, 8 * GiB), 4), "loading llama  [####]  100%  8.0 GiB / 8.0 GiB");
  EXPECT_EQ(progress_line(progress("ready", 8 * GiB, 8 * GiB)), "ready llama on cuda:0  8.0 GiB");
  EXPECT_EQ(progress_line(progress("unloaded", 0, 0)), "unloaded llama");
}

TEST(LlmctlProgress, ParsedFromTheModel) {
  json::value v = parse(
      R"({"id":"m","state":"loading","device":"cpu:1","progress":{"bytes_done":5,"bytes_total":10}})");
  LoadProgress p = progress_of(v.as_object());
  EXPECT_EQ(p.id, "m");
  EXPECT_EQ(p.state, "loading");
  EXPECT_EQ(p.device, "cpu:1");
  EXPECT_EQ(p.bytes_done, 5u);
  EXPECT_EQ(p.bytes_total, 10u);
  p = progress_of(parse(R"({"progress":"x","state":7})").as_object());
  EXPECT_EQ(p.state, "-");
  EXPECT_EQ(p.bytes_total, 0u);
}

TEST(LlmctlProgress, TerminalRedrawsOneLine) {
  std::string out;
  ProgressView view([&](std::string_view s) { out += s; }, true);
  view.update(progress("loading", 0, 0));
  view.update(progress("loading", GiB, 4 * GiB));
  view.finish(progress("ready", 4 * GiB, 4 * GiB));
  const std::string first = "loading llama  (size not known yet)";
  const std::string second = progress_line(progress("loading", GiB, 4 * GiB));
  const std::string last = "ready llama on cuda:0  4.0 GiB";
  EXPECT_EQ(out, "\r" + first + "\r" + second + "\r" + last + std::string(second.size() - last.size(), ' ') + "\n");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(LlmctlProgress, PlainOutputWritesAFewLines) {
  std::string out;
  ProgressView view([&](std::string_view s) { out += s; }, false);
  view.update(progress("unloaded", 0, 0));
  view.update(progress("unloaded", 0, 0));
  view.update(progress("loading", 0, 0));
  for (uint64_t done = 0; done <= 100; ++done) view.update(progress("loading", done * MiB, 100 * MiB));
  view.finish(progress("ready", 100 * MiB, 100 * MiB));
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(out.substr(start, nl - start));
  }
  EXPECT_EQ(start, out.size());  // every line ended
  EXPECT_EQ(out.find('\r'), std::string::npos);
  // unloaded, loading (size unknown), 0%, 25%, 50%, 75%, 100%, ready.
  ASSERT_EQ(lines.size(), 8u) << out;
  EXPECT_EQ(lines[0], "unloaded llama");
  EXPECT_EQ(lines[1], "loading llama  (size not known yet)");
  EXPECT_NE(lines[2].find(" 0%"), std::string::npos);
  EXPECT_NE(lines[3].find(" 25%"), std::string::npos);
  EXPECT_NE(lines[6].find(" 100%"), std::string::npos);
  EXPECT_EQ(lines[7], "ready llama on cuda:0  100.0 MiB");
}

// A scripted server: each fetch returns the next answer; the last repeats.
struct Script {
  std::deque<Result<json::value>> answers;
  int fetches = 0;
  int sleeps = 0;
  FetchModel fetch() {
    return [this]() -> Result<json::value> {
      ++fetches;
      Result<json::value> next = answers.front();
      if (answers.size() > 1) answers.pop_front();
      return next;
    };
  }
  SleepFor sleep() {
    return [this](std::chrono::milliseconds) { ++sleeps; };
  }
};

json::value model(const std::string& state, uint64_t done = 0, uint64_t total = 0, const std::string& error = "") {
  json::object o{{"id", "m"}, {"state", state}, {"device", "cpu"}};
  o["progress"] = json::object{{"bytes_done", done}, {"bytes_total", total}};
  o["error"] = error.empty() ? json::value(nullptr) : json::value(error);
  return o;
}

TEST(LlmctlWait, PollsUntilReady) {
  Script s;
  s.answers = {model("unloaded"), model("loading", 0, 100), model("loading", 50, 100), model("ready", 100, 100)};
  std::string out;
  ProgressView view([&](std::string_view t) { out += t; }, false);
  auto r = wait_until_ready(s.fetch(), s.sleep(), view);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("state").as_string(), "ready");
  EXPECT_EQ(s.fetches, 4);
  EXPECT_EQ(s.sleeps, 3);
  EXPECT_NE(out.find("ready m on cpu"), std::string::npos) << out;
}

TEST(LlmctlWait, AFailedLoadGivesTheServersError) {
  Script s;
  s.answers = {model("loading", 10, 100), model("failed", 10, 100, "tensor data out of bounds")};
  std::string out;
  ProgressView view([&](std::string_view t) { out += t; }, true);
  auto r = wait_until_ready(s.fetch(), s.sleep(), view);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::model_failed);
  EXPECT_EQ(r.error().message, "model 'm' failed to load: tensor data out of bounds");
  EXPECT_EQ(out.back(), '\n');  // the bar's line is ended before the error is printed
}

TEST(LlmctlWait, TransientFetchFailuresAreRetriedAFewTimes) {
  Script s;
  s.answers = {Error(ErrorCode::connect_failed, "refused"), Error(ErrorCode::timeout, "slow"), model("ready")};
  std::string out;
  ProgressView view([&](std::string_view t) { out += t; }, false);
  EXPECT_TRUE(wait_until_ready(s.fetch(), s.sleep(), view).ok());

  Script down;
  down.answers = {Error(ErrorCode::connect_failed, "refused")};
  WaitOptions o;
  o.max_fetch_failures = 3;
  auto r = wait_until_ready(down.fetch(), down.sleep(), view, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::connect_failed);
  EXPECT_EQ(down.fetches, 4);
}

TEST(LlmctlWait, OtherFetchErrorsEndTheWaitAtOnce) {
  Script s;
  s.answers = {model("loading", 1, 2), Error(ErrorCode::model_not_found, "HTTP 404: no model 'm'")};
  std::string out;
  ProgressView view([&](std::string_view t) { out += t; }, false);
  auto r = wait_until_ready(s.fetch(), s.sleep(), view);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::model_not_found);
  EXPECT_EQ(s.fetches, 2);
}

TEST(LlmctlWait, UnloadedAfterLoadingIsAConflict) {
  Script s;
  s.answers = {model("loading", 1, 2), model("unloading"), model("unloaded")};
  std::string out;
  ProgressView view([&](std::string_view t) { out += t; }, false);
  auto r = wait_until_ready(s.fetch(), s.sleep(), view);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::model_state_conflict);
  EXPECT_NE(r.error().message.find("unloading again"), std::string::npos) << r.error().message;
}

TEST(LlmctlWait, ALoadThatNeverStartsTimesOut) {
  Script s;
  s.answers = {model("unloaded")};
  std::string out;
  ProgressView view([&](std::string_view t) { out += t; }, false);
  WaitOptions o;
  o.interval = std::chrono::milliseconds(200);
  o.start_grace = std::chrono::milliseconds(1000);
  auto r = wait_until_ready(s.fetch(), s.sleep(), view, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::timeout);
  EXPECT_EQ(s.fetches, 6);  // at 0, 200, ..., 1000 ms
}

TEST(LlmctlWait, ANonObjectAnswerIsAnError) {
  Script s;
  s.answers = {json::value(json::array{})};
  std::string out;
  ProgressView view([&](std::string_view t) { out += t; }, false);
  auto r = wait_until_ready(s.fetch(), s.sleep(), view);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::bad_answer);
}

}  // namespace
}  // namespace llmd::llmctl
