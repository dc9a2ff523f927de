// Admission over the ledger's group commit: a requester hears "admitted" only
// once its reservation row is committed, and exactly once even when the shared
// commit fails and the reservations are made again one by one.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/auth/auth_fixture.hpp"

namespace llmd::auth {
namespace {

using test::AuthFixture;

class AdmitGrouped : public AuthFixture {
 protected:
  // Counts the ledger connection's commits; can fail the next group commit.
  struct Hook {
    storage::Database* db = nullptr;
    int commits = 0;
    int group_commits_to_fail = 0;
    static int on_commit(void* self) {
      auto* h = static_cast<Hook*>(self);
      if (h->group_commits_to_fail > 0 && h->db->in_group()) {
        --h->group_commits_to_fail;
        return 1;  // SQLite turns the COMMIT into a rollback
      }
      ++h->commits;
      return 0;
    }
  };

  void SetUp() override {
    AuthFixture::SetUp();
    svc_->call_ledger([this](storage::Database& db) {
      hook_.db = &db;
      sqlite3_commit_hook(db.handle(), &Hook::on_commit, &hook_);
      return 0;
    });
  }
  void TearDown() override {
    if (!svc_) return;
    svc_->call_ledger([](storage::Database& db) { return sqlite3_commit_hook(db.handle(), nullptr, nullptr); });
  }

  template <typename F>
  auto on_ledger(F f) {
    return svc_->call_ledger(std::move(f));
  }

  // Keeps the ledger thread busy until the returned function is called, so that
  // what is posted meanwhile queues up side by side.
  std::function<void()> hold_ledger() {
    auto gate = std::make_shared<std::promise<void>>();
    auto started = std::make_shared<std::promise<void>>();
    std::shared_future<void> opened = gate->get_future().share();
    auto holder = std::make_shared<std::thread>([this, opened, started] {
      svc_->call_ledger([&](storage::Database&) {
        started->set_value();
        opened.wait();
        return 0;
      });
    });
    started->get_future().wait();
    return [gate, holder] {
      gate->set_value();
      holder->join();
    };
  }

  struct Heard {
    AdmissionResult result;
    int64_t rows_seen_by_reader = -1;  // for an admission: its row, read through another connection
  };

  // Posts `n` admissions of 10 + 90 tokens while the ledger is held; each
  // callback checks through a second connection that its row is committed.
  std::vector<Heard> admit_while_held(const std::shared_ptr<const Principal>& p, int n,
                                      std::vector<int>* times_heard) {
    auto reader_db = storage::Database::open(svc_->database_path());
    EXPECT_TRUE(reader_db.ok());
    std::shared_ptr<storage::Database> reader = std::move(*reader_db);
    std::mutex mu;
    std::vector<Heard> heard(static_cast<size_t>(n));
    times_heard->assign(static_cast<size_t>(n), 0);
    auto release = hold_ledger();
    for (int i = 0; i < n; ++i) {
      AdmissionRequest req{"m", 10, 90, "req-" + std::to_string(i)};
      svc_->admissions().admit(p, req, [&, i, reader](AdmissionResult r) {
        int64_t seen = -1;
        if (r.admitted()) {
          auto st = reader->prepare("SELECT count(*) FROM usage WHERE id = ?1 AND status = 'open'");
          EXPECT_TRUE(st.ok());
          st->bind(1, r.admission.usage_id());
          EXPECT_TRUE(*st->step());
          seen = st->column_int(0);
        }
        std::lock_guard lock(mu);
        (*times_heard)[static_cast<size_t>(i)]++;
        heard[static_cast<size_t>(i)] = Heard{std::move(r), seen};
      });
    }
    release();
    on_ledger([](storage::Database&) { return 0; });  // every callback has run
    return heard;
  }

  void expect_ten_of_twenty(std::vector<Heard>& heard, const std::vector<int>& times_heard) {
    int admitted = 0, refused = 0;
    for (size_t i = 0; i < heard.size(); ++i) {
      EXPECT_EQ(times_heard[i], 1) << "request " << i;
      if (heard[i].result.admitted()) {
        ++admitted;
        EXPECT_EQ(heard[i].rows_seen_by_reader, 1) << "request " << i;
      } else {
        ASSERT_TRUE(heard[i].result.denial);
        EXPECT_EQ(heard[i].result.denial->code, "insufficient_quota");
        ++refused;
      }
    }
    EXPECT_EQ(admitted, 10);
    EXPECT_EQ(refused, 10);
    EXPECT_EQ(on_ledger([](storage::Database& db) {
                auto st = db.prepare("SELECT count(*) FROM usage");
                EXPECT_TRUE(*st->step());
                return st->column_int(0);
              }),
              10);
    for (auto& h : heard) {
      if (h.result.admitted()) h.result.admission.finish({storage::UsageStatus::ok, std::nullopt, 5, 0, 0});
    }
    drain_ledger();
    auto check = ledger_check();
    EXPECT_TRUE(check.consistent());
    EXPECT_EQ(check.open_rows, 0);
  }

  Hook hook_;
};

TEST_F(AdmitGrouped, AdmissionsQueuedTogetherShareACommitAndAreHeardAfterIt) {
  storage::TeamLimits l;
  l.daily_token_budget = 1000;  // ten requests of 10 + 90
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  drain_ledger();
  int before = on_ledger([this](storage::Database&) { return hook_.commits; });
  std::vector<int> times_heard;
  auto heard = admit_while_held(p, 20, &times_heard);
  EXPECT_EQ(on_ledger([this](storage::Database&) { return hook_.commits; }) - before, 1);
  expect_ten_of_twenty(heard, times_heard);
}

TEST_F(AdmitGrouped, AFailedGroupCommitStillAdmitsEachRequestExactlyOnce) {
  storage::TeamLimits l;
  l.daily_token_budget = 1000;
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  drain_ledger();
  on_ledger([this](storage::Database&) { return hook_.group_commits_to_fail = 1; });
  std::vector<int> times_heard;
  auto heard = admit_while_held(p, 20, &times_heard);
  EXPECT_EQ(on_ledger([this](storage::Database&) { return hook_.group_commits_to_fail; }), 0);
  expect_ten_of_twenty(heard, times_heard);
}

}  // namespace
}  // namespace llmd::auth
