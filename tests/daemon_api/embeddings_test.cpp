// POST /v1/embeddings on the production llmd over TLS, serving a synthetic
// qwen3 embedding model (last-token pooling) and a llama chat model: float
// and base64 answers agree, every input shape, `dimensions`, the usage in the
// ledger (real SQLite), the budgets and the metrics, and the refusals (a chat model,
// empty and too long inputs, fields llmd does not implement).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/synth/synth_model.hpp"
#include "storage/migrations.hpp"
#include "storage/usage_ledger.hpp"
#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

constexpr int kWidth = 256;  // n_embd of the test-qwen3-embed shape

boost::json::value json_of(const client::HttpResponse& r) {
  std::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  return v;
}

std::vector<float> floats_of(const boost::json::value& embedding) {
  std::vector<float> v;
  for (const auto& x : embedding.as_array()) v.push_back(static_cast<float>(x.to_number<double>()));
  return v;
}

// Decodes standard base64 (written here, independently of the server's encoder).
std::vector<uint8_t> base64_decode(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    const int v = val(c);
    EXPECT_GE(v, 0) << "not base64: " << c;
    if (v < 0) return {};
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

std::vector<float> little_endian_floats(const std::vector<uint8_t>& b) {
  std::vector<float> v(b.size() / 4);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t u = uint32_t{b[4 * i]} | uint32_t{b[4 * i + 1]} << 8 | uint32_t{b[4 * i + 2]} << 16 |
                       uint32_t{b[4 * i + 3]} << 24;
    std::memcpy(&v[i], &u, 4);
  }
  return v;
}

// GET /metrics from the plain-HTTP metrics listener the log names.
std::string scrape_metrics(ApiServer& server) {
  const std::string logs = server.logs();
  const std::string marker = "metrics: http://127.0.0.1:";
  const size_t at = logs.find(marker);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no metrics listener in the log";
    return "";
  }
  const auto port = static_cast<uint16_t>(std::stoi(logs.substr(at + marker.size())));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  std::string all;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[8192];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, static_cast<size_t>(n));
  }
  if (fd >= 0) ::close(fd);
  return all;
}

// The value of the first sample of `name` whose labels include all of `labels`, or -1.
double sample(const std::string& text, const std::string& name, const std::vector<std::string>& labels) {
  size_t at = 0;
  while ((at = text.find("\n" + name + "{", at)) != std::string::npos) {
    const size_t end = text.find('\n', at + 1);
    const std::string line = text.substr(at + 1, end - at - 1);
    at = end;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

double norm(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

// The server: "synth" is the embedding model, "chat" a plain llama model.
ApiServerOptions embedding_server() {
  ApiServerOptions opts;
  opts.shape = "test-qwen3-embed";
  opts.weight_type = "q8_0";
  auto chat = engine::synth::make_synth_writer(*engine::synth::find_synth_shape("test-llama"),
                                               {.type = "q8_0", .seed = 1, .threads = 1});
  EXPECT_TRUE(chat.ok());
  auto bytes = chat->to_bytes();
  EXPECT_TRUE(bytes.ok());
  opts.files.emplace_back("chat.gguf", std::string(bytes->begin(), bytes->end()));
  opts.models_extra = "\n[[models]]\nname = \"chat\"\npath = \"chat.gguf\"\nthreads = 1\n";
  return opts;
}

void expect_error(const client::HttpResponse& r, int status, const std::string& code, const std::string& param) {
  EXPECT_EQ(r.status, status) << r.body;
  boost::json::value v = json_of(r);
  ASSERT_TRUE(v.is_object() && v.as_object().contains("error")) << r.body;
  const auto& e = v.at("error").as_object();
  EXPECT_EQ(e.at("code"), boost::json::value(code)) << r.body;
  if (param.empty()) return;
  EXPECT_EQ(e.at("param"), boost::json::value(param)) << r.body;
}

TEST(Embeddings, FloatAndBase64AgreeForEveryInputShape) {
  ApiServer server(embedding_server());
  ASSERT_TRUE(server.ok());

  auto flt = server.call("POST", "/v1/embeddings",
                         R"({"model":"synth","input":["The quick brown fox","jumps over"],"user":"u1"})");
  ASSERT_EQ(flt.status, 200) << flt.body;
  boost::json::value f = json_of(flt);
  EXPECT_EQ(f.at("object"), "list");
  EXPECT_EQ(f.at("model"), "synth");
  const auto& data = f.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  std::vector<std::vector<float>> vectors;
  for (size_t i = 0; i < data.size(); ++i) {
    EXPECT_EQ(data[i].at("object"), "embedding");
    EXPECT_EQ(data[i].at("index").as_int64(), static_cast<int64_t>(i));
    vectors.push_back(floats_of(data[i].at("embedding")));
    ASSERT_EQ(vectors.back().size(), static_cast<size_t>(kWidth));
    EXPECT_NEAR(norm(vectors.back()), 1.0, 1e-5);
  }
  EXPECT_NE(vectors[0], vectors[1]);
  const int64_t tokens = f.at("usage").at("prompt_tokens").as_int64();
  EXPECT_GT(tokens, 0);
  EXPECT_EQ(f.at("usage").at("total_tokens").as_int64(), tokens);

  auto b64 = server.call("POST", "/v1/embeddings",
                         R"({"model":"synth","input":["The quick brown fox","jumps over"],"encoding_format":"base64"})");
  ASSERT_EQ(b64.status, 200) << b64.body;
  boost::json::value b = json_of(b64);
  for (size_t i = 0; i < 2; ++i) {
    const auto& e = b.at("data").as_array()[i].at("embedding");
    ASSERT_TRUE(e.is_string()) << b64.body;
    const std::vector<float> decoded = little_endian_floats(base64_decode(std::string(e.as_string())));
    EXPECT_EQ(decoded, vectors[i]) << "base64 and float answers of input " << i;
  }
  EXPECT_EQ(b.at("usage").at("prompt_tokens").as_int64(), tokens);

  // One string alone gives the same vector as inside the array.
  auto single = server.call("POST", "/v1/embeddings", R"({"model":"test/synth","input":"jumps over"})");
  ASSERT_EQ(single.status, 200) << single.body;
  EXPECT_EQ(floats_of(json_of(single).at("data").as_array()[0].at("embedding")), vectors[1]);

  // Token ids: one list, and a list of lists.
  auto ids = server.call("POST", "/v1/embeddings", R"({"model":"synth","input":[5,6,7]})");
  ASSERT_EQ(ids.status, 200) << ids.body;
  EXPECT_EQ(json_of(ids).at("usage").at("prompt_tokens").as_int64(), 3);
  auto lists = server.call("POST", "/v1/embeddings", R"({"model":"synth","input":[[5,6,7],[1,2]]})");
  ASSERT_EQ(lists.status, 200) << lists.body;
  boost::json::value l = json_of(lists);
  EXPECT_EQ(l.at("usage").at("prompt_tokens").as_int64(), 5);
  EXPECT_EQ(floats_of(l.at("data").as_array()[0].at("embedding")),
            floats_of(json_of(ids).at("data").as_array()[0].at("embedding")));

  // dimensions: the first values, renormalised (qwen3 embedding models).
  auto dims = server.call("POST", "/v1/embeddings", R"({"model":"synth","input":"jumps over","dimensions":32})");
  ASSERT_EQ(dims.status, 200) << dims.body;
  const std::vector<float> short_v = floats_of(json_of(dims).at("data").as_array()[0].at("embedding"));
  ASSERT_EQ(short_v.size(), 32u);
  EXPECT_NEAR(norm(short_v), 1.0, 1e-5);
  const double head = norm(std::vector<float>(vectors[1].begin(), vectors[1].begin() + 32));
  for (size_t i = 0; i < 32; ++i) EXPECT_NEAR(short_v[i], vectors[1][i] / head, 1e-6) << i;
}

TEST(Embeddings, RefusalsNameTheField) {
  ApiServer server(embedding_server());
  ASSERT_TRUE(server.ok());
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"chat","input":"hello"})"), 400,
               "model_not_embedding", "model");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":""})"), 400, "invalid_value", "input");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":[]})"), 400, "invalid_value", "input");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":["a",""]})"), 400, "invalid_value",
               "input[1]");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth"})"), 400, "missing_required_parameter",
               "input");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":[1,-2]})"), 400, "invalid_value",
               "input[1]");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":[9999]})"), 400, "invalid_value",
               "input");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":"x","encoding_format":"int8"})"),
               400, "invalid_value", "encoding_format");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":"x","dimensions":0})"), 400,
               "invalid_value", "dimensions");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":"x","dimensions":257})"), 400,
               "invalid_value", "dimensions");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":"x","truncate":true})"), 400,
               "unsupported_parameter", "truncate");
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"nope","input":"x"})"), 404, "model_not_found",
               "model");
  // The model's context is 256 tokens: 256 fit, 257 do not.
  std::string ids = "[";
  for (int i = 0; i < 257; ++i) ids += (i ? "," : "") + std::to_string(i % 500);
  ids += "]";
  expect_error(server.call("POST", "/v1/embeddings", R"({"model":"synth","input":)" + ids + "}"), 400,
               "context_length_exceeded", "input");
  const std::string fits = ids.substr(0, ids.rfind(',')) + "]";
  auto ok = server.call("POST", "/v1/embeddings", R"({"model":"synth","input":)" + fits + "}");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json_of(ok).at("usage").at("prompt_tokens").as_int64(), 256);
  // Not JSON.
  expect_error(server.call("POST", "/v1/embeddings", "{"), 400, "invalid_json", "");
}

// Embedding tokens are prompt tokens: in the ledger and against the budgets.
TEST(Embeddings, UsageInTheLedgerAndBudgets) {
  ApiServer server(embedding_server());
  ASSERT_TRUE(server.ok());
  const std::string body = R"({"model":"synth","input":[[1,2,3,4,5,6,7,8,9,10],[11,12,13,14,15]]})";
  const std::string key = server.make_team_key(R"({"name":"rag","weight":1,"daily_token_budget":15})");
  ASSERT_FALSE(key.empty());
  auto first = server.call("POST", "/v1/embeddings", body, &key);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json_of(first).at("usage").at("prompt_tokens").as_int64(), 15);
  auto second = server.call("POST", "/v1/embeddings", body, &key);
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_NE(second.body.find("\"code\":\"insufficient_quota\""), std::string::npos) << second.body;

  auto usage = server.call("GET", "/admin/v1/usage?team=rag", "", &server.admin_key());
  ASSERT_EQ(usage.status, 200) << usage.body;
  boost::json::value u = json_of(usage);
  ASSERT_FALSE(u.at("data").as_array().empty()) << usage.body;
  const auto& row = u.at("data").as_array()[0].as_object();
  EXPECT_EQ(row.at("requests").as_int64(), 1);
  EXPECT_EQ(row.at("total_tokens").as_int64(), 15);
  EXPECT_EQ(row.at("prompt_tokens").as_int64(), 15);
  EXPECT_EQ(row.at("completion_tokens").as_int64(), 0);

  const std::string metrics = scrape_metrics(server);
  EXPECT_EQ(sample(metrics, "llmd_tokens_total", {"team=\"rag\"", "kind=\"prompt\""}), 15) << metrics;
  EXPECT_EQ(sample(metrics, "llmd_requests_total", {"team=\"rag\"", "endpoint=\"embeddings\"", "status=\"200\""}), 1)
      << metrics;
  server.stop();

  auto db = storage::open_database(server.database_path());
  ASSERT_TRUE(db.ok());
  auto check = storage::check_ledger(**db);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->consistent()) << (check->problems.empty() ? "" : check->problems[0]);
  EXPECT_EQ(check->open_rows, 0);
}

}  // namespace
}  // namespace llmd::test
