// auth_bench: cost of authentication and of admission + settlement on a real
// SQLite ledger in a temporary state directory.
//
//   build/bin/auth_bench [--requests N] [--threads T]
//
// Prints one table: per configuration, operations per second and the latency of
// one admission (posted to the ledger thread and answered) at p50 and p99.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "auth/auth_service.hpp"
#include "base/log.hpp"

namespace {

using namespace llmd;
using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

struct Row {
  std::string what;
  double ops_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::unique_ptr<auth::AuthService> open_service(const std::string& dir, storage::Synchronous sync) {
  auth::AuthServiceOptions o;
  o.state_dir = dir;
  o.database.synchronous = sync;
  auto svc = auth::AuthService::open(o);
  if (!svc) {
    std::fprintf(stderr, "auth_bench: %s\n", svc.error().message.c_str());
    std::exit(1);
  }
  return std::move(*svc);
}

Row bench_auth(auth::AuthService& svc, const std::string& key, int n) {
  std::string header = "Bearer " + key;
  (void)svc.authenticator().authenticate(header, std::nullopt);  // warm the cache
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(n));
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto t = Clock::now();
    auto r = svc.authenticator().authenticate(header, std::nullopt);
    lat.push_back(us_since(t));
    if (!r.ok()) std::abort();
  }
  double s = us_since(t0) / 1e6;
  return {"authenticate (cache hit)", n / s, percentile(lat, 0.5), percentile(lat, 0.99)};
}

Row bench_admit(auth::AuthService& svc, std::shared_ptr<const auth::Principal> p, int n, int threads,
                const char* label) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(threads));
  std::atomic<int> failures{0};
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = t; i < n; i += threads) {
        auto start = Clock::now();
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
        auth::AdmissionResult result;
        svc.admissions().admit(p, auth::AdmissionRequest{"bench", 100, 200, "bench"}, [&](auth::AdmissionResult r) {
          std::lock_guard lock(mu);
          result = std::move(r);
          done = true;
          cv.notify_one();
        });
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return done; });
        lat[static_cast<size_t>(t)].push_back(us_since(start));
        if (!result.admitted()) {
          failures++;
          continue;
        }
        result.admission.finish({llmd::storage::UsageStatus::ok, std::nullopt, 150, 0, 1});
      }
    });
  }
  for (auto& th : pool) th.join();
  svc.call_ledger([](storage::Database&) { return 0; });  // settlements written
  double s = us_since(t0) / 1e6;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  if (failures) std::fprintf(stderr, "auth_bench: %d admissions refused\n", failures.load());
  return {std::string(label) + ", " + std::to_string(threads) + " threads", n / s, percentile(all, 0.5),
          percentile(all, 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  int requests = 5000;
  int max_threads = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--requests") requests = std::atoi(argv[i + 1]);
    else if (a == "--threads") max_threads = std::atoi(argv[i + 1]);
  }
  llmd::log::set_level(llmd::log::Level::warning);
  std::string base = (std::filesystem::temp_directory_path() / ("llmd-auth-bench-" + std::to_string(::getpid()))).string();
  std::vector<Row> rows;
  for (auto sync : {storage::Synchronous::normal, storage::Synchronous::full}) {
    std::string dir = base + (sync == storage::Synchronous::normal ? "-normal" : "-full");
    auto svc = open_service(dir, sync);
    storage::TeamLimits limits;
    limits.daily_token_budget = int64_t{1} << 50;
    limits.rpm_limit = int64_t{1} << 40;
    limits.tpm_limit = int64_t{1} << 40;
    (void)svc->call_admin([&](storage::Database& db) { return svc->admin().create_team(db, "local:bench", "bench", limits); });
    auth::KeySpec spec{"bench", "bench", auth::Role::user, std::nullopt, std::nullopt, std::nullopt};
    auto key = svc->call_admin([&](storage::Database& db) { return svc->admin().create_key(db, "local:bench", spec); });
    if (!key) return 1;
    auto p = svc->authenticator().authenticate("Bearer " + key->key, std::nullopt).principal;
    const char* label = sync == storage::Synchronous::normal ? "admit + settle, synchronous=NORMAL"
                                                             : "admit + settle, synchronous=FULL";
    if (sync == storage::Synchronous::normal) rows.push_back(bench_auth(*svc, key->key, requests * 10));
    for (int t = 1; t <= max_threads; t *= 4) rows.push_back(bench_admit(*svc, p, requests, t, label));
    svc.reset();
    std::filesystem::remove_all(dir);
  }
  std::printf("%-48s %12s %10s %10s\n", "operation", "ops/s", "p50 us", "p99 us");
  for (const Row& r : rows) std::printf("%-48s %12.0f %10.1f %10.1f\n", r.what.c_str(), r.ops_per_s, r.p50_us, r.p99_us);
  return 0;
}
