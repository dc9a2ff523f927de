// Key-cache misses off the caller's thread (Authenticator::authenticate_async)
// against a real SQLite ledger: a miss is read on the worker and answered
// there exactly once; a hit, a missing or a malformed key is decided at once;
// unknown key ids live in their own bounded negative cache, so a flood of
// made-up ids is looked up once each and never pushes valid keys out; and
// lookups waiting for a worker are bounded (503 beyond).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "auth/api_key.hpp"
#include "tests/auth/auth_fixture.hpp"

namespace llmd::auth {
namespace {

// A worker whose tasks run when the test says so: the lookups it holds are
// the ones waiting, as on a busy worker pool.
struct HeldWorker {
  std::vector<std::function<void()>> tasks;
  Authenticator::Worker fn() {
    return [this](std::function<void()> task) { tasks.push_back(std::move(task)); };
  }
  void run_all() {
    auto run = std::move(tasks);
    tasks.clear();
    for (auto& t : run) t();
  }
};

// Collects what `later` got.
struct Answers {
  std::vector<AuthResult> got;
  Authenticator::Later fn() {
    return [this](AuthResult r) { got.push_back(std::move(r)); };
  }
};

std::string bearer(const std::string& key) { return "Bearer " + key; }

// A well-formed key (valid checksum) that no database knows.
std::string unknown_key() {
  auto k = generate_api_key();
  EXPECT_TRUE(k.ok());
  return k.ok() ? k->key : std::string();
}

class KeyLookup : public test::AuthFixture {
 protected:
  KeyLookup() {
    authn_options_.cache_max_entries = 4;
    authn_options_.unknown_cache_max_entries = 16;
    authn_options_.max_pending_lookups = 3;
  }

  std::optional<AuthResult> async(const std::string& key) {
    return svc_->authenticator().authenticate_async(bearer(key), std::nullopt, worker.fn(), answers.fn());
  }

  HeldWorker worker;
  Answers answers;
};

TEST_F(KeyLookup, MissIsReadOnTheWorkerAndAnsweredOnce) {
  make_team("t");
  IssuedKey k = make_key("t");

  EXPECT_FALSE(async(k.key));  // not decided here
  ASSERT_EQ(worker.tasks.size(), 1u);
  EXPECT_EQ(svc_->authenticator().pending_lookups(), 1u);
  EXPECT_TRUE(answers.got.empty());

  worker.run_all();
  ASSERT_EQ(answers.got.size(), 1u);
  ASSERT_TRUE(answers.got[0].ok());
  EXPECT_EQ(answers.got[0].principal->team, "t");
  EXPECT_EQ(svc_->authenticator().pending_lookups(), 0u);

  // Now cached: decided at once, nothing for the worker.
  auto hit = async(k.key);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->ok());
  EXPECT_TRUE(worker.tasks.empty());
  EXPECT_EQ(answers.got.size(), 1u);
}

TEST_F(KeyLookup, MissingMalformedAndWrongSecretNeedNoWorker) {
  auto none = svc_->authenticator().authenticate_async(std::nullopt, std::nullopt, worker.fn(), answers.fn());
  ASSERT_TRUE(none);
  EXPECT_EQ(none->denial->http_status, 401);
  auto junk = async("llmd_not-a-key");
  ASSERT_TRUE(junk);
  EXPECT_EQ(junk->denial->http_status, 401);
  // A valid checksum with the wrong secret: looked up once, then refused from the cache.
  make_team("t");
  IssuedKey k = make_key("t");
  std::string forged = assemble_api_key(k.record.key_id, std::string(kSecretLength, 'A'));
  EXPECT_FALSE(async(forged));
  worker.run_all();
  ASSERT_EQ(answers.got.size(), 1u);
  EXPECT_FALSE(answers.got[0].ok());
  auto again = async(forged);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->denial->http_status, 401);
  EXPECT_TRUE(worker.tasks.empty());
}

TEST_F(KeyLookup, FloodOfUnknownIdsIsCachedApartAndKeepsValidKeysCached) {
  make_team("t");
  IssuedKey k = make_key("t");
  ASSERT_TRUE(auth_bearer(k.key).ok());  // cached
  EXPECT_EQ(svc_->authenticator().cache().known_size(), 1u);

  std::string last;
  for (int i = 0; i < 200; ++i) {
    last = unknown_key();
    ASSERT_FALSE(async(last));
    worker.run_all();
  }
  ASSERT_EQ(answers.got.size(), 200u);
  for (const auto& r : answers.got) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.denial->http_status, 401);
  }
  EXPECT_LE(svc_->authenticator().cache().unknown_size(), 16u);
  EXPECT_EQ(svc_->authenticator().cache().known_size(), 1u);

  // The valid key is still decided from memory.
  auto hit = async(k.key);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->ok());
  // And a recent unknown id is refused from the negative cache.
  auto neg = async(last);
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->denial->http_status, 401);
  EXPECT_TRUE(worker.tasks.empty());
}

TEST_F(KeyLookup, WaitingLookupsAreBounded) {
  make_team("t");
  IssuedKey k = make_key("t");
  ASSERT_TRUE(auth_bearer(k.key).ok());  // cached

  for (int i = 0; i < 3; ++i) EXPECT_FALSE(async(unknown_key()));
  EXPECT_EQ(svc_->authenticator().pending_lookups(), 3u);
  auto busy = async(unknown_key());
  ASSERT_TRUE(busy);
  ASSERT_FALSE(busy->ok());
  EXPECT_EQ(busy->denial->http_status, 503);
  EXPECT_EQ(busy->denial->code, "server_busy");
  EXPECT_TRUE(busy->denial->retry_after_s.has_value());
  EXPECT_EQ(worker.tasks.size(), 3u);

  // Cached keys are not held up by the waiting lookups.
  auto hit = async(k.key);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->ok());

  worker.run_all();
  EXPECT_EQ(answers.got.size(), 3u);
  EXPECT_EQ(svc_->authenticator().pending_lookups(), 0u);
  EXPECT_FALSE(async(unknown_key()));  // room again
  worker.run_all();
}

}  // namespace
}  // namespace llmd::auth
