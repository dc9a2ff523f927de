// Where the manager keeps the models added over the admin API and their
// desired state, so that they come back after a restart. The daemon
// implements it over its SQLite database; the manager never sees SQL.
//
// Calls come from the thread that changes the catalog (an admin request's
// worker, or the manager's loader thread when a desired state changes) and
// may block briefly on the database.
#pragma once

#include <vector>

#include "base/result.hpp"
#include "models/model_spec.hpp"

namespace llmd::models {

class ModelStore {
 public:
  virtual ~ModelStore() = default;
  // Every stored model (source api), in the order they were added.
  virtual Result<std::vector<ModelSpec>> load_all() = 0;
  // Inserts or replaces the row of spec.id.
  virtual Status save(const ModelSpec& spec) = 0;
  // Forgets the model; unknown ids are not an error.
  virtual Status remove(const std::string& id) = 0;
};

}  // namespace llmd::models
