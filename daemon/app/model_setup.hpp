// From the configuration to the model manager's terms: [[models]] entries
// become catalog specs, [devices] the device options, [model_manager] and
// [paths] the manager's options.
#pragma once

#include "daemon/config/config.hpp"
#include "models/model_manager.hpp"

namespace llmd::daemon {

models::ModelSpec spec_from_config(const config::ModelConfig& m);
std::vector<models::ModelSpec> specs_from_config(const config::Config& cfg);
models::DeviceOptions device_options(const config::Config& cfg);
// store may be null (no persistence of API models).
models::ManagerOptions manager_options(const config::Config& cfg, models::ModelStore* store);

}  // namespace llmd::daemon
