// llmctl's command line for the model manager: option parsing, the checks of
// each command's words and options, and the request bodies they make.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <string>
#include <vector>

#include "tools/llmctl/cli_args.hpp"
#include "tools/llmctl/model_request.hpp"

namespace llmd::llmctl {
namespace {

namespace json = boost::json;

const std::set<std::string> kBooleans = {"insecure", "json", "csv", "all", "help", "pinned", "no-load", "wait"};

Result<Args> parse(std::vector<std::string> words) {
  words.insert(words.begin(), "llmctl");
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  return parse_args(static_cast<int>(argv.size()), argv.data(), kBooleans);
}

Args args(std::vector<std::string> words) {
  auto a = parse(std::move(words));
  EXPECT_TRUE(a.ok()) << a.error().message;
  return a.ok() ? *a : Args{};
}

std::string add_json(std::vector<std::string> words) {
  words.insert(words.begin(), {"models", "add"});
  auto body = add_model_body(args(words));
  EXPECT_TRUE(body.ok()) << body.error().message;
  return body.ok() ? json::serialize(*body) : "";
}

// The message of the usage error that `words` (after "models add") give.
std::string add_error(std::vector<std::string> words) {
  words.insert(words.begin(), {"models", "add"});
  auto a = parse(words);
  if (!a) return a.error().message;
  auto body = add_model_body(*a);
  if (body.ok()) return "no error: " + json::serialize(*body);
  EXPECT_EQ(body.error().code, ErrorCode::usage);
  return body.error().message;
}

TEST(LlmctlArgs, RepeatedOptionsKeepEveryValueInOrder) {
  Args a = args({"models", "add", "m", "/p", "--alias", "b", "--alias=a", "--device", "cpu", "--alias", "c"});
  EXPECT_EQ(a.get_all("alias"), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(a.get("alias"), "c");
  EXPECT_EQ(a.get_all("device"), std::vector<std::string>{"cpu"});
  EXPECT_TRUE(a.get_all("missing").empty());
  EXPECT_EQ(a.positional, (std::vector<std::string>{"models", "add", "m", "/p"}));
}

TEST(LlmctlArgs, AnOptionFollowedByAnotherOptionHasNoValue) {
  auto a = parse({"models", "load", "m", "--device", "--wait"});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ErrorCode::usage);
  EXPECT_NE(a.error().message.find("--device needs a value"), std::string::npos);
  // The = form takes any value.
  EXPECT_EQ(args({"models", "load", "m", "--device=--odd"}).get("device"), "--odd");
}

TEST(LlmctlArgs, AddWithEveryOption) {
  EXPECT_EQ(add_json({"llama-3-8b", "/srv/models/llama.gguf", "--device", "cuda:1", "--alias", "llama",
                      "--alias", "l3", "--context-length", "8192", "--max-sequences", "16", "--kv-cache-bytes",
                      "4GiB", "--pinned", "--keep-alive", "600", "--no-load"}),
            R"({"id":"llama-3-8b","path":"/srv/models/llama.gguf","device":"cuda:1","aliases":["llama","l3"],)"
            R"("context_length":8192,"max_sequences":16,"keep_alive_s":600,"kv_cache_bytes":4294967296,)"
            R"("pinned":true,"load":false})");
}

TEST(LlmctlArgs, AddSendsOnlyWhatWasGivenAndNeverAsksTheServerToWait) {
  EXPECT_EQ(add_json({"m", "m.gguf"}), R"({"id":"m","path":"m.gguf"})");
  EXPECT_EQ(add_json({"m", "m.gguf", "--wait", "--json"}), R"({"id":"m","path":"m.gguf"})");
  // Global options may come anywhere.
  EXPECT_EQ(add_json({"--url", "https://h", "m", "m.gguf", "--insecure"}), R"({"id":"m","path":"m.gguf"})");
}

TEST(LlmctlArgs, AddRefusesBadInputWithAClearMessage) {
  EXPECT_NE(add_error({"m"}).find("missing operand: models add ID PATH"), std::string::npos);
  EXPECT_NE(add_error({}).find("missing operand"), std::string::npos);
  EXPECT_NE(add_error({"m", "p", "extra"}).find("unexpected 'extra'"), std::string::npos);
  EXPECT_NE(add_error({"", "p"}).find("empty operand"), std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--contxt-length", "5"}).find("models add has no option --contxt-length"),
            std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--all"}).find("has no option --all"), std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--pinned=yes"}).find("--pinned takes no value"), std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--no-load", "--wait"}).find("cannot go with --no-load"), std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--device="}).find("--device needs a non-empty value"), std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--alias", "a", "--alias="}).find("--alias needs a non-empty value"),
            std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--context-length", "-1"}).find("--context-length needs a whole number"),
            std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--max-sequences", "1e3"}).find("--max-sequences"), std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--keep-alive", "4294967296"}).find("0 to 4294967295"), std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--kv-cache-bytes", "lots"}).find("--kv-cache-bytes needs a size"),
            std::string::npos);
  EXPECT_NE(add_error({"m", "p", "--context-length"}).find("--context-length needs a value"), std::string::npos);
}

TEST(LlmctlArgs, SizesTakeBinaryUnits) {
  EXPECT_EQ(*parse_bytes("x", "0"), 0u);
  EXPECT_EQ(*parse_bytes("x", "1048576"), 1048576u);
  EXPECT_EQ(*parse_bytes("x", "512M"), 512ull << 20);
  EXPECT_EQ(*parse_bytes("x", "512mib"), 512ull << 20);
  EXPECT_EQ(*parse_bytes("x", "4GiB"), 4ull << 30);
  EXPECT_EQ(*parse_bytes("x", "2T"), 2ull << 40);
  EXPECT_EQ(*parse_bytes("x", "3k"), 3072u);
  EXPECT_EQ(*parse_bytes("x", "7B"), 7u);
  EXPECT_EQ(*parse_bytes("x", "9223372036854775807"), 9223372036854775807ull);
  for (const char* bad : {"", "GiB", "-1", "1.5GiB", "4 GiB", "4GB", "4Gx", "9223372036854775808",
                          "8388608TiB", "99999999999999999999999"}) {
    auto r = parse_bytes("kv-cache-bytes", bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(LlmctlArgs, CountsAreWholeNumbersWithinRange) {
  EXPECT_EQ(*parse_count("n", "0", 10), 0u);
  EXPECT_EQ(*parse_count("n", "10", 10), 10u);
  for (const char* bad : {"", "11", "-0", "+1", "1 ", " 1", "0x10", "abc"}) {
    EXPECT_FALSE(parse_count("n", bad, 10).ok()) << bad;
  }
}

TEST(LlmctlArgs, LoadTakesADeviceAndWait) {
  auto body = load_model_body(args({"models", "load", "m", "--device", "cuda:0", "--wait"}));
  ASSERT_TRUE(body.ok()) << body.error().message;
  EXPECT_EQ(json::serialize(*body), R"({"device":"cuda:0"})");
  body = load_model_body(args({"models", "load", "m"}));
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(json::serialize(*body), "{}");
  body = load_model_body(args({"models", "load", "m", "--pinned"}));
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.error().message.find("models load has no option --pinned"), std::string::npos);
  EXPECT_FALSE(load_model_body(args({"models", "load"})).ok());
  EXPECT_FALSE(load_model_body(args({"models", "load", "a", "b"})).ok());
}

TEST(LlmctlArgs, CheckOptionsNamesTheCommand) {
  Args a = args({"devices", "--wait"});
  auto r = check_options(a, "devices", {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "devices has no option --wait");
  a = args({"models", "show", "m", "--json", "--key-file", "k", "--cacert", "c"});
  EXPECT_TRUE(check_options(a, "models show", {}, {}).ok());
  EXPECT_NE(parse({"models", "load", "m", "--device"}).error().message.find("needs a value"), std::string::npos);
  a = args({"models", "add", "m", "p", "--wait"});
  r = check_options(a, "models add", {"wait"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "--wait needs a value");
}

TEST(LlmctlArgs, OperandCountsAreExact) {
  EXPECT_TRUE(check_operands(args({"models", "move", "m", "cuda:1"}), 4, "models move ID DEVICE").ok());
  auto r = check_operands(args({"models", "move", "m"}), 4, "models move ID DEVICE");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "missing operand: models move ID DEVICE");
  r = check_operands(args({"devices", "x"}), 1, "devices");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "unexpected 'x' (devices)");
}

}  // namespace
}  // namespace llmd::llmctl
