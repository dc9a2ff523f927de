// The rows of the models added over the admin API (table `models`, schema v2):
// everything the catalog needs to serve one again after a restart, including
// whether it should be loaded. The daemon converts these to and from the model
// manager's ModelSpec; this layer knows nothing of the manager.
//
// Functions take the connection to run on. save_model_record writes several
// rows (the model and its aliases): callers run it inside a Transaction so that
// a failure leaves the previous row intact, and may put an audit row in the
// same transaction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "storage/database.hpp"

namespace llmd::storage {

struct ModelRecord {
  std::string id;
  std::string path;
  std::vector<std::string> aliases;   // in the order given
  std::string device = "auto";
  bool pinned = false;
  int64_t keep_alive_s = 0;           // this and the counts below: 0 .. 2^32-1
  int64_t context_length = 0;
  int64_t max_sequences = 0;
  int64_t max_choices = 0;
  int64_t max_waiting = 0;
  int64_t kv_cache_bytes = 0;         // >= 0
  std::string chat_template_name;     // "" = none
  std::string chat_template;          // path of a Jinja file; "" = none
  int64_t threads = 0;
  bool load = true;                   // desired state: loaded (true) or unloaded
  int64_t created_at = 0;             // ms since the epoch; set by save, read by list
  int64_t updated_at = 0;
};

// Inserts the row of record.id, or replaces every field of an existing one
// (its aliases included) while keeping its created_at and its place in the
// list order. `now_ms` becomes updated_at (and created_at of a new row); the
// record's own created_at/updated_at are ignored.
// Errors: storage_constraint for a value out of range or an empty id.
Status save_model_record(Database& db, const ModelRecord& record, int64_t now_ms);

// Deletes the row of `id` and its aliases; an unknown id is not an error.
Status remove_model_record(Database& db, std::string_view id);

// Every stored model, in the order they were first saved.
Result<std::vector<ModelRecord>> list_model_records(Database& db);

}  // namespace llmd::storage
