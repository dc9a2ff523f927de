// Models placed across devices: an explicit split, the automatic one when no
// single device holds the model, and a refusal with the numbers when even
// every device together cannot.
#include "tests/models/manager_harness.hpp"

namespace llmd::models::test {
namespace {

using namespace std::chrono_literals;

TEST(ModelSplit, AnExplicitSplitServesTheReferenceAnswerAndHoldsMemoryOnEachDevice) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(1);
  ModelManager m(cpu_devices(2, 1ull << 30), options_for(dir));
  ASSERT_TRUE(m.start({}));
  auto spec = stories_spec("a", dir.file(0));
  spec.devices = {"cpu:0", "cpu:1"};
  spec.layer_split = {3, 2};
  ASSERT_TRUE(add_ready(m, spec));
  EXPECT_EQ(generate(m, "a", reference_prompt(), 64), reference_ids());
  auto info = m.info("a");
  EXPECT_EQ(info->device, "cpu:0+cpu:1");
  ASSERT_EQ(info->stages.size(), 2u);
  EXPECT_EQ(info->stages[0].device, "cpu:0");
  EXPECT_EQ(info->stages[0].last_layer, 3);
  EXPECT_EQ(info->stages[1].first_layer, 3);
  EXPECT_EQ(info->stages[1].last_layer, 5);
  for (const auto& d : m.devices()) {
    EXPECT_GT(d.device.reserved_total(), 0u) << d.device.id;
    EXPECT_EQ(d.models, std::vector<std::string>{"a"}) << d.device.id;
  }
  ASSERT_TRUE(m.unload("a"));
  ASSERT_TRUE(wait_info(m, "a", [](const ModelInfo& i) { return i.state == ModelState::unloaded; }));
  for (const auto& d : m.devices()) EXPECT_EQ(d.device.reserved_total(), 0u) << d.device.id;
  // Bad splits are refused when added.
  auto bad = stories_spec("b", dir.file(0));
  bad.devices = {"cpu:0", "cpu:1"};
  bad.layer_split = {4, 4};
  EXPECT_FALSE(m.add(bad));
  bad.layer_split = {5};
  EXPECT_FALSE(m.add(bad));
  bad.layer_split = {};
  bad.devices = {"cpu:0", "cpu:7"};
  auto unknown = m.add(bad);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::device_unknown);
  m.stop();
}

TEST(ModelSplit, AutoPlacementSplitsAModelNoSingleDeviceHolds) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(1);
  const uint64_t one = stories_estimate(stories_spec("x", dir.file(0)));
  // Each partition holds about 70 % of the model: only a split fits.
  ModelManager m(cpu_devices(2, one * 7 / 10), options_for(dir));
  ASSERT_TRUE(m.start({}));
  auto added = m.add(stories_spec("a", dir.file(0)));
  ASSERT_TRUE(added) << added.error().message;
  ASSERT_TRUE(wait_info(m, "a", [](const ModelInfo& i) { return i.state == ModelState::ready; }));
  auto info = m.info("a");
  EXPECT_EQ(info->stages.size(), 2u) << info->device;
  EXPECT_EQ(generate(m, "a", reference_prompt(), 64), reference_ids());
  for (const auto& d : m.devices()) {
    EXPECT_GT(d.device.reserved_total(), 0u) << d.device.id;
    EXPECT_LE(d.device.reserved_total(), d.device.memory_budget) << d.device.id;
  }
  m.stop();
}

TEST(ModelSplit, WhatFitsNowhereIsRefusedWithTheNumbers) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(1);
  const uint64_t one = stories_estimate(stories_spec("x", dir.file(0)));
  ModelManager m(cpu_devices(2, one / 3), options_for(dir));
  ASSERT_TRUE(m.start({}));
  auto added = m.add(stories_spec("a", dir.file(0)));
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ErrorCode::insufficient_device_memory);
  EXPECT_NE(added.error().message.find("needs"), std::string::npos) << added.error().message;
  EXPECT_NE(added.error().message.find("budget"), std::string::npos) << added.error().message;
  m.stop();
}

}  // namespace
}  // namespace llmd::models::test
