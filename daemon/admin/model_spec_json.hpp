// The body of POST /admin/v1/models (see admin_models.hpp) as a ModelSpec:
// unknown fields, wrong types and values out of range are invalid_argument
// errors naming the field. A relative path names a file in the first of
// `model_dirs`; whether the file may be served is the manager's check.
#pragma once

#include <boost/json/object.hpp>

#include <filesystem>
#include <vector>

#include "base/result.hpp"
#include "models/model_spec.hpp"

namespace llmd::admin {

Result<models::ModelSpec> read_model_spec(const boost::json::object& body,
                                          const std::vector<std::filesystem::path>& model_dirs);

}  // namespace llmd::admin
