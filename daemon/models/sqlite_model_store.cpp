#include "daemon/models/sqlite_model_store.hpp"

#include <algorithm>

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

// A split is kept in the device column as "cpu:0=3,cpu:1=2" (device=layers,
// in stage order), or "cpu:0,cpu:1" without a layer split.
std::string placement_text(const models::ModelSpec& s) {
  if (s.devices.empty()) return s.device;
  std::string out;
  for (size_t i = 0; i < s.devices.size(); ++i) {
    if (i) out += ',';
    out += s.devices[i];
    if (i < s.layer_split.size()) out += '=' + std::to_string(s.layer_split[i]);
  }
  return out;
}

Status read_placement(const std::string& text, models::ModelSpec* s) {
  if (text.find(',') == std::string::npos && text.find('=') == std::string::npos) {
    s->device = text;
    return ok_status();
  }
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    const size_t eq = part.find('=');
    s->devices.push_back(part.substr(0, eq));
    if (eq != std::string::npos) {
      const std::string n = part.substr(eq + 1);
      if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) {
        return Error(ErrorCode::storage_error, "stored placement '" + text + "' of model '" + s->id + "' is not valid");
      }
      s->layer_split.push_back(std::stoi(n));
    }
    start = end + 1;
  }
  if (!s->layer_split.empty() && s->layer_split.size() != s->devices.size()) {
    return Error(ErrorCode::storage_error, "stored placement '" + text + "' of model '" + s->id + "' is not valid");
  }
  return ok_status();
}

}  // namespace

storage::ModelRecord to_record(const models::ModelSpec& s) {
  storage::ModelRecord r;
  r.id = s.id;
  r.path = s.path.string();
  r.aliases = s.aliases;
  r.device = placement_text(s);
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
  LLMD_TRY(read_placement(r.device, &s));
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
