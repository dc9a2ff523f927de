// ModelManager::apply_config_models: the config's [[models]] applied to a
// running manager (the daemon's reload) over real GGUF files on the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/models/manager_harness.hpp"

namespace llmd::models::test {
namespace {

using namespace std::chrono_literals;

ModelSpec config_spec(const std::string& id, const std::filesystem::path& file) {
  ModelSpec s = stories_spec(id, file);
  s.source = ModelSource::config;
  return s;
}

TEST(ConfigModels, AddedChangedAndRemovedEntriesFollowTheConfig) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(2);
  ModelManager m(cpu_devices(1, 1ull << 30), options_for(dir));
  ASSERT_TRUE(m.start({config_spec("a", dir.file(0))}));
  ASSERT_TRUE(wait_info(m, "a", [](const ModelInfo& i) { return i.state == ModelState::ready; }));

  // Added.
  auto changes = m.apply_config_models({config_spec("a", dir.file(0)), config_spec("b", dir.file(1))});
  ASSERT_TRUE(changes) << changes.error().message;
  EXPECT_EQ(changes->added, std::vector<std::string>{"b"});
  EXPECT_TRUE(changes->changed.empty() && changes->removed.empty() && changes->updated.empty());
  EXPECT_EQ(generate(m, "b", reference_prompt(), 64), reference_ids());
  EXPECT_EQ(m.info("b")->spec.source, ModelSource::config);

  // Changed while a request runs on it: the request finishes on the old
  // instance, then the model is loaded again with its new settings.
  {
    auto lease = acquire_sync(m, "a");
    ASSERT_TRUE(lease) << lease.error().message;
    auto run = submit_greedy(*lease, reference_prompt(), 64, 2ms);
    ModelSpec a4 = config_spec("a", dir.file(0));
    a4.max_sequences = 4;
    changes = m.apply_config_models({a4, config_spec("b", dir.file(1))});
    ASSERT_TRUE(changes) << changes.error().message;
    EXPECT_EQ(changes->changed, std::vector<std::string>{"a"});
    EXPECT_TRUE(changes->added.empty());
    ASSERT_TRUE(wait_run(run));
    std::lock_guard lk(run->mu);
    EXPECT_EQ(run->ids, reference_ids());
  }
  ASSERT_TRUE(wait_info(m, "a", [](const ModelInfo& i) {
    return i.state == ModelState::ready && i.spec.max_sequences == 4 && i.loads == 2;
  }));
  EXPECT_EQ(generate(m, "a", reference_prompt(), 64), reference_ids());

  // Removed, and an alias added in place (no reload of b).
  ModelSpec b_alias = config_spec("b", dir.file(1));
  b_alias.aliases = {"bee"};
  const uint64_t b_loads = m.info("b")->loads;
  changes = m.apply_config_models({b_alias});
  ASSERT_TRUE(changes) << changes.error().message;
  EXPECT_EQ(changes->removed, std::vector<std::string>{"a"});
  EXPECT_EQ(changes->updated, std::vector<std::string>{"b"});
  EXPECT_EQ(m.resolve("bee"), std::optional<std::string>("b"));
  EXPECT_EQ(m.info("b")->loads, b_loads);
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (m.info("a") && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(m.info("a").error().code, ErrorCode::model_not_found);
  EXPECT_FALSE(acquire_sync(m, "a"));
  auto progress = m.engine_progress();
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].id, "b");
  EXPECT_EQ(progress[0].in_step, std::chrono::nanoseconds(0)) << "an idle loop is between steps";
  m.stop();
}

TEST(ConfigModels, AClashWithAnotherModelRefusesTheWholeChange) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(2);
  ModelManager m(cpu_devices(1, 1ull << 30), options_for(dir));
  ASSERT_TRUE(m.start({config_spec("a", dir.file(0))}));
  ModelSpec api = stories_spec("api", dir.file(1));
  api.aliases = {"shared-name"};
  ASSERT_TRUE(add_ready(m, api));

  // The API model's id, with a new model beside it: nothing is applied.
  auto changes = m.apply_config_models({config_spec("a", dir.file(0)), config_spec("api", dir.file(1)),
                                        config_spec("c", dir.file(1))});
  ASSERT_FALSE(changes);
  EXPECT_EQ(changes.error().code, ErrorCode::model_exists);
  EXPECT_NE(changes.error().message.find("added over the admin API"), std::string::npos) << changes.error().message;
  EXPECT_FALSE(m.info("c"));

  // An alias that another model holds.
  ModelSpec c = config_spec("c", dir.file(1));
  c.aliases = {"shared-name"};
  changes = m.apply_config_models({config_spec("a", dir.file(0)), c});
  ASSERT_FALSE(changes);
  EXPECT_EQ(changes.error().code, ErrorCode::model_exists);
  EXPECT_FALSE(m.info("c"));

  // Dropping a config model's alias lets another take it in the same change.
  ModelSpec a = config_spec("a", dir.file(0));
  a.aliases = {"first"};
  ASSERT_TRUE(m.apply_config_models({a}));
  ModelSpec c2 = config_spec("c", dir.file(1));
  c2.aliases = {"first"};
  changes = m.apply_config_models({config_spec("a", dir.file(0)), c2});
  ASSERT_TRUE(changes) << changes.error().message;
  EXPECT_EQ(changes->added, std::vector<std::string>{"c"});
  EXPECT_EQ(m.resolve("first"), std::optional<std::string>("c"));
  // API models are left alone by every change.
  EXPECT_EQ(m.info("api")->state, ModelState::ready);
  m.stop();
}

}  // namespace
}  // namespace llmd::models::test
