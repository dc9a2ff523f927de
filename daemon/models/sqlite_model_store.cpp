#include "daemon/models/sqlite_model_store.hpp"

#include <cstdint>
#include <limits>

#include "storage/transaction.hpp"

namespace llmd::daemon {
namespace {

// Copies a stored number into a narrower unsigned field, refusing values that
// do not fit (the schema's CHECKs keep them out, but a hand-edited file may not).
template <typename T>
Status narrow(const storage::ModelRecord& r, const char* field, int64_t value, T* out) {
  if (value < 0 || static_cast<uint64_t>(value) > std::numeric_limits<T>::max()) {
    return Error(ErrorCode::storage_error, "stored model '" + r.id + "' has " + field + " = " +
                                               std::to_string(value) + ", outside 0.." +
                                               std::to_string(std::numeric_limits<T>::max()));
  }
  *out = static_cast<T>(value);
  return ok_status();
}

// kv_cache_bytes is unsigned 64-bit in the spec and signed in SQLite: values
// above INT64_MAX are clamped there (no real cache is that large).
int64_t to_int64(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                          : static_cast<int64_t>(v);
}

}  // namespace

storage::ModelRecord to_record(const models::ModelSpec& s) {
  storage::ModelRecord r;
  r.id = s.id;
  r.path = s.path.string();
  r.aliases = s.aliases;
  r.device = s.device;
  r.pinned = s.pinned;
  r.keep_alive_s = s.keep_alive_s;
  r.context_length = s.context_length;
  r.max_sequences = s.max_sequences;
  r.max_choices = s.max_choices;
  r.max_waiting = s.max_waiting;
  r.kv_cache_bytes = to_int64(s.kv_cache_bytes);
  r.chat_template_name = s.chat_template_name;
  r.chat_template = s.chat_template.string();
  r.threads = s.threads;
  r.load = s.load;
  return r;
}

Result<models::ModelSpec> to_spec(const storage::ModelRecord& r) {
  models::ModelSpec s;
  s.id = r.id;
  s.path = r.path;
  s.aliases = r.aliases;
  s.device = r.device;
  s.pinned = r.pinned;
  LLMD_TRY(narrow(r, "keep_alive_s", r.keep_alive_s, &s.keep_alive_s));
  LLMD_TRY(narrow(r, "context_length", r.context_length, &s.context_length));
  LLMD_TRY(narrow(r, "max_sequences", r.max_sequences, &s.max_sequences));
  LLMD_TRY(narrow(r, "max_choices", r.max_choices, &s.max_choices));
  LLMD_TRY(narrow(r, "max_waiting", r.max_waiting, &s.max_waiting));
  LLMD_TRY(narrow(r, "kv_cache_bytes", r.kv_cache_bytes, &s.kv_cache_bytes));
  LLMD_TRY(narrow(r, "threads", r.threads, &s.threads));
  s.chat_template_name = r.chat_template_name;
  s.chat_template = r.chat_template;
  s.source = models::ModelSource::api;
  s.load = r.load;
  s.origin = "admin API";
  return s;
}

Result<std::vector<models::ModelSpec>> SqliteModelStore::load_all() {
  std::vector<storage::ModelRecord> records;
  {
    std::lock_guard lock(mu_);
    // One read transaction: the models and their aliases from one snapshot.
    auto tx = storage::Transaction::begin(db_, storage::Transaction::Mode::deferred);
    if (!tx) return tx.take_error();
    auto listed = storage::list_model_records(db_);
    if (!listed) return listed.take_error();
    LLMD_TRY(tx->commit());
    records = std::move(*listed);
  }
  std::vector<models::ModelSpec> specs;
  specs.reserve(records.size());
  for (const storage::ModelRecord& r : records) {
    auto spec = to_spec(r);
    if (!spec) return spec.take_error();
    specs.push_back(std::move(*spec));
  }
  return specs;
}

Status SqliteModelStore::save(const models::ModelSpec& spec) {
  if (spec.id.empty()) return Error(ErrorCode::invalid_argument, "a stored model needs an id");
  const storage::ModelRecord record = to_record(spec);
  std::lock_guard lock(mu_);
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return tx.take_error();
  if (auto r = storage::save_model_record(db_, record, clock_.wall_ms()); !r) {
    return r.take_error().with_context("cannot store model '" + spec.id + "': ");
  }
  return tx->commit();
}

Status SqliteModelStore::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return tx.take_error();
  if (auto r = storage::remove_model_record(db_, id); !r) {
    return r.take_error().with_context("cannot forget model '" + id + "': ");
  }
  return tx->commit();
}

}  // namespace llmd::daemon
