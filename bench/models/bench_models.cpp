// llmd-bench-models: the model manager's steps on real devices, timed, with
// no daemon (it links no server library, so it builds on a GPU machine).
//
//   llmd-bench-models --model FILE [--device D] [--other D] [--requests N] [--tokens T]
//
// Loads FILE on D (default cuda:0 when there is a GPU, else cpu:0 of two CPU
// partitions), reports the memory estimate against the measured use, then
// with N greedy requests in flight moves it D -> other -> D, and on a GPU
// parks it and restores it. Each step's time is printed, with the pinned
// host-to-device copy rate measured in the same run for comparison, and
// whether every request completed with all its tokens.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/log.hpp"
#include "engine/backend/backend_factory.hpp"
#include "models/model_manager.hpp"

namespace {

using namespace llmd;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model;
  std::string device;
  std::string other;
  int requests = 8;
  int tokens = 64;
};

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: llmd-bench-models --model FILE [--device D] [--other D] [--requests N] [--tokens T]\n");
  std::exit(2);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool wait_for(models::ModelManager& m, const std::string& id, const std::function<bool(const models::ModelInfo&)>& pred,
              double timeout_s) {
  const auto end = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < end) {
    auto i = m.info(id);
    if (i && pred(*i)) return true;
    if (i && i->state == models::ModelState::failed) {
      std::fprintf(stderr, "model failed: %s\n", i->error.c_str());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

struct Flight {
  std::vector<std::shared_ptr<std::promise<int>>> done;  // tokens produced
  std::vector<std::future<int>> results;
  std::vector<models::Lease> leases;
};

// N greedy requests of T tokens, submitted now.
Flight start_requests(models::ModelManager& m, const std::string& id, int n, int tokens) {
  Flight f;
  for (int i = 0; i < n; ++i) {
    std::promise<Result<models::Lease>> got;
    auto fut = got.get_future();
    m.acquire(id, [&got](Result<models::Lease> r) { got.set_value(std::move(r)); });
    auto lease = fut.get();
    if (!lease) {
      std::fprintf(stderr, "acquire: %s\n", lease.error().message.c_str());
      continue;
    }
    auto p = std::make_shared<std::promise<int>>();
    f.results.push_back(p->get_future());
    auto count = std::make_shared<int>(0);
    scheduler::GenerationRequest r;
    r.prompt = {1, 400 + i, 300 + 3 * i, 17};
    r.max_tokens = tokens;
    r.ignore_eos = true;
    r.on_event = [p, count](scheduler::StreamEvent&& ev) {
      *count += static_cast<int>(ev.tokens.size());
      if (ev.done) p->set_value(*count);
    };
    if (auto sub = (*lease)->scheduler->submit(std::move(r)); !sub) {
      std::fprintf(stderr, "submit: %s\n", sub.error().message.c_str());
      p->set_value(-1);
    }
    f.leases.push_back(std::move(*lease));
  }
  return f;
}

// Waits for every request; true when each produced all its tokens.
bool finish(Flight& f, int tokens, int* complete) {
  *complete = 0;
  for (auto& r : f.results) {
    if (r.wait_for(std::chrono::seconds(120)) == std::future_status::ready && r.get() == tokens) ++*complete;
  }
  f.leases.clear();
  return *complete == static_cast<int>(f.results.size());
}

void row(const char* step, double secs, const std::string& note) {
  std::printf("%-28s %9.3f s  %s\n", step, secs, note.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    auto next = [&] {
      if (i + 1 >= argc) usage();
      return std::string(argv[++i]);
    };
    if (!std::strcmp(argv[i], "--model")) o.model = next();
    else if (!std::strcmp(argv[i], "--device")) o.device = next();
    else if (!std::strcmp(argv[i], "--other")) o.other = next();
    else if (!std::strcmp(argv[i], "--requests")) o.requests = std::atoi(next().c_str());
    else if (!std::strcmp(argv[i], "--tokens")) o.tokens = std::atoi(next().c_str());
    else usage();
  }
  if (o.model.empty() || o.requests < 1 || o.tokens < 1) usage();
  log::set_level(log::Level::warning);

  models::DeviceOptions dopts;
  dopts.cpu_partitions = 2;
  auto devices = models::DeviceTable::discover(dopts);
  if (!devices) {
    std::fprintf(stderr, "%s\n", devices.error().message.c_str());
    return 1;
  }
  const bool gpu = devices->find("cuda:0") != nullptr;
  if (o.device.empty()) o.device = gpu ? "cuda:0" : "cpu:0";
  if (o.other.empty()) o.other = gpu ? "cpu:0" : "cpu:1";
  std::printf("== llmd-bench-models: %s on %s, moves to %s, %d requests x %d tokens\n", o.model.c_str(),
              o.device.c_str(), o.other.c_str(), o.requests, o.tokens);
  for (const auto& d : devices->devices()) {
    std::printf("device %-7s %-28s budget %s\n", d.id.c_str(), d.name.c_str(),
                models::format_bytes(d.memory_budget).c_str());
  }
  if (gpu) {
    if (auto rate = engine::pinned_copy_rate(0)) {
      std::printf("pinned host->device copy rate: %.1f GB/s (measured now)\n", *rate / 1e9);
    }
  }

  models::ManagerOptions mo;
  mo.model_dirs = {std::filesystem::path(o.model).parent_path().empty() ? std::filesystem::path(".")
                                                                         : std::filesystem::path(o.model).parent_path()};
  models::ModelManager m(std::move(*devices), mo);
  if (auto st = m.start({}); !st) {
    std::fprintf(stderr, "%s\n", st.error().message.c_str());
    return 1;
  }
  models::ModelSpec spec;
  spec.id = "bench";
  spec.path = o.model;
  spec.device = o.device;
  spec.max_sequences = static_cast<uint32_t>(std::max(o.requests, 1));
  spec.context_length = 1024;
  bool ok = true;

  auto t0 = Clock::now();
  auto added = m.add(spec);
  if (!added) {
    std::fprintf(stderr, "add: %s\n", added.error().message.c_str());
    return 1;
  }
  if (!wait_for(m, "bench", [](const models::ModelInfo& i) { return i.state == models::ModelState::ready; }, 600)) return 1;
  const double load_s = seconds_since(t0);
  auto info = *m.info("bench");
  const double est = static_cast<double>(info.memory_estimate), act = static_cast<double>(info.memory_actual);
  std::printf("\n%-28s %9s    %s\n", "step", "time", "note");
  char pct[48] = "";
  if (act > 0) std::snprintf(pct, sizeof pct, " (estimate %+.1f %%)", (est / act - 1.0) * 100.0);
  row("load", load_s, "estimate " + models::format_bytes(info.memory_estimate) + ", measured " +
                          models::format_bytes(info.memory_actual) + pct);

  auto move = [&](const std::string& to, const char* name) {
    Flight f = start_requests(m, "bench", o.requests, o.tokens);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto t = Clock::now();
    auto r = m.move("bench", to);
    if (!r) {
      row(name, 0, "refused: " + r.error().message);
      ok = false;
    } else if (!wait_for(m, "bench", [&](const models::ModelInfo& i) { return i.device == to; }, 600)) {
      row(name, seconds_since(t), "did not finish");
      ok = false;
    } else {
      const double s = seconds_since(t);
      int complete = 0;
      const bool all = finish(f, o.tokens, &complete);
      ok = ok && all;
      row(name, s, std::to_string(complete) + "/" + std::to_string(o.requests) + " requests in flight completed");
      return;
    }
    int complete = 0;
    finish(f, o.tokens, &complete);
  };
  move(o.other, ("move " + o.device + " -> " + o.other).c_str());
  move(o.device, ("move " + o.other + " -> " + o.device).c_str());

  if (gpu && o.device.rfind("cuda", 0) == 0) {
    auto t = Clock::now();
    if (auto r = m.move("bench", "host"); !r) {
      row("park", 0, "refused: " + r.error().message);
      ok = false;
    } else if (wait_for(m, "bench", [](const models::ModelInfo& i) { return i.state == models::ModelState::parked; }, 600)) {
      row("park", seconds_since(t), "device memory freed");
      t = Clock::now();
      Flight f = start_requests(m, "bench", 1, o.tokens);  // a request restores it
      const double s = seconds_since(t);
      int complete = 0;
      finish(f, o.tokens, &complete);
      char rate[64];
      std::snprintf(rate, sizeof rate, " at %.1f GB/s", static_cast<double>(info.memory_actual) / std::max(s, 1e-9) / 1e9);
      row("restore (by a request)", s, models::format_bytes(info.memory_actual) + rate);
    } else {
      row("park", seconds_since(t), "did not finish");
      ok = false;
    }
  }
  m.stop();
  std::printf("\nresult: %s\n", ok ? "every step completed" : "SOME STEPS FAILED");
  return ok ? 0 : 1;
}
