// llmd-bench-usage-report: what /admin/v1/usage costs as the ledger grows.
// The report reads the rollup table `usage_daily` that triggers keep; for
// comparison, the same grouping summed over the `usage` rows themselves
// (what a report would cost without the rollup), and what the triggers add to
// each ledger write.
//
//   build/bin/llmd-bench-usage-report [--rows N,N,...]
//
// Rows are spread over 30 days, 5 teams, 3 keys per team and 4 models (the
// groups the report has are in the last column), written in one transaction
// per 10 000 rows. A last line gives the write cost without the triggers.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "storage/migrations.hpp"
#include "storage/transaction.hpp"
#include "storage/usage_report.hpp"

namespace {

using namespace llmd;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "llmd-bench-usage-report: %s\n", what.c_str());
  std::exit(1);
}

void check(const Status& s, const char* what) {
  if (!s) die(std::string(what) + ": " + s.error().message);
}

// Teams 1..5, keys 1..15 (three per team).
void add_teams_and_keys(storage::Database& db) {
  for (int t = 1; t <= 5; ++t) {
    auto team = db.prepare("INSERT INTO teams (id, name, created_at, updated_at) VALUES (?1, ?2, 0, 0)");
    if (!team) die("prepare");
    team->bind(1, int64_t{t}).bind(2, "team" + std::to_string(t));
    check(team->run(), "team");
    for (int k = 0; k < 3; ++k) {
      const int id = (t - 1) * 3 + k + 1;
      char key_id[32];
      std::snprintf(key_id, sizeof key_id, "KEY%013d", id);
      auto key = db.prepare(
          "INSERT INTO api_keys (id, key_id, team_id, name, role, secret_sha256, created_at)"
          " VALUES (?1, ?2, ?3, 'k', 'user', zeroblob(32), 0)");
      if (!key) die("prepare");
      key->bind(1, int64_t{id}).bind(2, std::string(key_id)).bind(3, int64_t{t});
      check(key->run(), "key");
    }
  }
}

// Writes rows [from, to) as admitted and settled requests; returns the time.
double add_usage(storage::Database& db, int64_t from, int64_t to) {
  const auto t0 = Clock::now();
  for (int64_t start = from; start < to; start += 10000) {
    auto tx = storage::Transaction::begin(db);
    if (!tx) die("begin");
    for (int64_t i = start; i < std::min(to, start + 10000); ++i) {
      const int64_t key = i % 15 + 1;
      char day[16];
      std::snprintf(day, sizeof day, "2026-11-%02d", static_cast<int>(i / 7 % 30) + 1);
      static const char* models[] = {"llama-8b", "qwen-7b", "embed", "tiny"};
      auto ins = db.prepare(
          "INSERT INTO usage (api_key_id, team_id, model, day, admitted_at, finished_at, status, prompt_tokens,"
          " completion_tokens, queue_wait_ms, reserved_tokens, charged_tokens)"
          " VALUES (?1, ?2, ?3, ?4, 0, 1, 'ok', ?5, ?6, 3, ?7, ?7)");
      if (!ins) die("prepare usage");
      ins->bind(1, key).bind(2, (key - 1) / 3 + 1).bind(3, std::string(models[i / 3 % 4])).bind(4, std::string(day));
      ins->bind(5, 100 + i % 50).bind(6, 20 + i % 30).bind(7, 120 + i % 50 + i % 30);
      check(ins->run(), "usage row");
    }
    check(tx->commit(), "commit");
  }
  return ms_since(t0);
}

double median_ms(const std::vector<double>& v) {
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  return s[s.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {10000, 100000, 1000000};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rows" && i + 1 < argc) {
      sizes.clear();
      std::string list = argv[++i];
      for (size_t pos = 0; pos <= list.size();) {
        const size_t comma = list.find(',', pos);
        sizes.push_back(std::atoll(list.substr(pos, comma - pos).c_str()));
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else {
      std::fprintf(stderr, "usage: llmd-bench-usage-report [--rows N,N,...]\n");
      return 2;
    }
  }
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("llmd-bench-usage-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto opened = storage::open_database((dir / "ledger.db").string());
  if (!opened) die(opened.error().message);
  storage::Database& db = **opened;
  add_teams_and_keys(db);

  std::printf("| usage rows | write us/row (with rollup triggers) | report ms (rollup) | same grouping over the rows ms | report groups |\n");
  std::printf("|-----------:|------:|------:|------:|------:|\n");
  int64_t have = 0;
  for (int64_t n : sizes) {
    if (n <= have) continue;
    const double write_ms = add_usage(db, have, n);
    const double per_row_us = write_ms * 1000.0 / static_cast<double>(n - have);
    have = n;
    std::vector<double> rollup, raw;
    size_t groups = 0;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = Clock::now();
      auto r = storage::summarize_usage(db, {});
      if (!r) die(r.error().message);
      rollup.push_back(ms_since(t0));
      groups = r->size();
      t0 = Clock::now();
      auto st = db.prepare(
          "SELECT u.day, t.name, k.key_id, k.name, u.model, count(*), sum(u.status = 'ok'),"
          " sum(u.prompt_tokens), sum(u.completion_tokens), sum(u.charged_tokens), coalesce(sum(u.queue_wait_ms), 0)"
          " FROM usage u JOIN teams t ON t.id = u.team_id JOIN api_keys k ON k.id = u.api_key_id"
          " GROUP BY u.day, u.team_id, u.api_key_id, u.model ORDER BY u.day, t.name, k.key_id, u.model");
      if (!st) die("prepare raw");
      for (;;) {
        auto row = st->step();
        if (!row) die(row.error().message);
        if (!*row) break;
      }
      raw.push_back(ms_since(t0));
    }
    std::printf("| %10lld | %5.2f | %5.2f | %5.1f | %5zu |\n", static_cast<long long>(n), per_row_us, median_ms(rollup),
                median_ms(raw), groups);
  }
  opened->reset();

  // The same writes into a ledger without the rollup's triggers.
  auto bare = storage::open_database((dir / "bare.db").string());
  if (!bare) die(bare.error().message);
  check((*bare)->run_script("DROP TRIGGER usage_daily_add; DROP TRIGGER usage_daily_change;"
                            " DROP TRIGGER usage_daily_remove;"),
        "drop triggers");
  add_teams_and_keys(**bare);
  const int64_t n = sizes.empty() ? 100000 : std::min<int64_t>(sizes.back(), 100000);
  std::printf("\nwrite us/row without the triggers (%lld rows): %.2f\n", static_cast<long long>(n),
              add_usage(**bare, 0, n) * 1000.0 / static_cast<double>(n));
  bare->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
