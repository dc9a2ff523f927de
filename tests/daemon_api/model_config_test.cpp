// The [[models]] keys the API adds: max_choices, max_waiting, kv_cache_bytes,
// and chat_template as a built-in name or a Jinja file.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "daemon/config/config.hpp"
#include "tests/daemon/kit/files.hpp"

namespace llmd::test {
namespace {

class ModelConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "models");
    write_file(dir_ / "models" / "m.gguf", "x");
    write_file(dir_ / "tmpl.jinja", "{{ messages }}");
    write_file(dir_ / "c.pem", "x");
    write_file(dir_ / "k.pem", "x");
    std::filesystem::permissions(dir_ / "k.pem", std::filesystem::perms(0600));  // a key must be private
  }
  Result<config::Config> load(const std::string& model_keys) {
    return config::load_text("[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n[paths]\nmodel_dirs = [\"models\"]\n"
                             "[[models]]\nname = \"m\"\npath = \"models/m.gguf\"\n" + model_keys,
                             dir_ / "llmd.toml");
  }
  TempDir dir_;
};

TEST_F(ModelConfig, Defaults) {
  auto c = load("");
  ASSERT_TRUE(c) << c.error().message;
  const config::ModelConfig& m = c->models.at(0);
  EXPECT_EQ(m.max_choices, 4u);
  EXPECT_EQ(m.max_waiting, 256u);
  EXPECT_EQ(m.kv_cache_bytes, 0u);
  EXPECT_TRUE(m.chat_template_name.empty());
  EXPECT_TRUE(m.chat_template.empty());
}

TEST_F(ModelConfig, ChatTemplateIsABuiltInNameOrAFile) {
  auto named = load("chat_template = \"chatml\"\nmax_choices = 2\nmax_waiting = 9\nkv_cache_bytes = 1048576\n");
  ASSERT_TRUE(named) << named.error().message;
  EXPECT_EQ(named->models[0].chat_template_name, "chatml");
  EXPECT_TRUE(named->models[0].chat_template.empty());
  EXPECT_EQ(named->models[0].max_choices, 2u);
  EXPECT_EQ(named->models[0].max_waiting, 9u);
  EXPECT_EQ(named->models[0].kv_cache_bytes, 1048576u);

  auto file = load("chat_template = \"tmpl.jinja\"\n");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_TRUE(file->models[0].chat_template_name.empty());
  EXPECT_EQ(file->models[0].chat_template, dir_ / "tmpl.jinja");

  auto typo = load("chat_template = \"chatm1\"\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("models[0].chat_template: cannot read"), std::string::npos) << typo.error().message;
  EXPECT_NE(typo.error().message.find("a built-in template: plain, chatml"), std::string::npos) << typo.error().message;
}

TEST_F(ModelConfig, ChoicesBeyondTheBatchAreRefused) {
  auto c = load("max_sequences = 2\nmax_choices = 3\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("models[0].max_choices: must not exceed max_sequences (2)"), std::string::npos)
      << c.error().message;
  EXPECT_FALSE(load("max_waiting = 0\n"));
  EXPECT_FALSE(load("max_choices = 0\n"));
}

}  // namespace
}  // namespace llmd::test

namespace llmd::test {
namespace {

TEST(ApiConfig, StreamInterval) {
  TempDir dir;
  write_file(dir / "c.pem", "x");
  write_file(dir / "k.pem", "x");
  std::filesystem::permissions(dir / "k.pem", std::filesystem::perms(0600));  // a key must be private
  const std::string tls = "[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n";
  auto def = config::load_text(tls, dir / "llmd.toml");
  ASSERT_TRUE(def) << def.error().message;
  EXPECT_EQ(def->api.stream_interval, std::chrono::milliseconds(10));
  auto off = config::load_text(tls + "[api]\nstream_interval_s = 0\n", dir / "llmd.toml");
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->api.stream_interval, std::chrono::milliseconds(0));
  EXPECT_FALSE(config::load_text(tls + "[api]\nstream_interval_s = 5\n", dir / "llmd.toml"));
  EXPECT_FALSE(config::load_text(tls + "[api]\nstream_interval = 1\n", dir / "llmd.toml"));
}

}  // namespace
}  // namespace llmd::test
