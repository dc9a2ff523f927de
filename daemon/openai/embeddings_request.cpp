#include "daemon/openai/embeddings_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

#include <cstdint>

#include "daemon/openai/request_fields.hpp"
#include "daemon/openai/request_parts.hpp"
#include "daemon/openai/unimplemented_fields.hpp"

namespace llmd::openai {
namespace {

std::optional<ApiError> parse_fields(const boost::json::object& obj, EmbeddingsRequest* r) {
  RequestFields f(obj);
  f.mark_read("model");
  const boost::json::value* model = obj.if_contains("model");
  if (!model || model->is_null()) return ApiError{400, "Missing required parameter: 'model'.", "missing_required_parameter", "model"};
  if (!model->is_string()) return wrong_type("model", "a string", *model);
  r->model = std::string(model->get_string());

  f.mark_read("input");
  const boost::json::value* input = obj.if_contains("input");
  if (!input || input->is_null()) return ApiError{400, "Missing required parameter: 'input'.", "missing_required_parameter", "input"};
  if (auto e = detail::parse_prompt_inputs(*input, "input", "inputs", kMaxEmbeddingInputs, &r->inputs)) return e;

  std::string format = "float";
  if (auto e = f.get_string("encoding_format", format)) return e;
  if (format == "base64") {
    r->base64 = true;
  } else if (format != "float") {
    return invalid_param("encoding_format", "'encoding_format' must be \"float\" or \"base64\" (got \"" + format + "\").");
  }
  if (auto e = f.get_int("dimensions", 1, INT32_MAX, r->dimensions)) return e;
  std::string user;
  if (auto e = f.get_string("user", user)) return e;
  std::string priority;
  if (auto e = f.get_string("priority", priority)) return e;
  if (!priority.empty()) {
    scheduler::Priority p;
    if (!scheduler::parse_priority(priority, &p))
      return invalid_param("priority", "'priority' must be \"interactive\" or \"batch\".");
    r->priority = p;
  }
  return refuse_unimplemented_fields(obj, f);
}

}  // namespace

std::optional<ApiError> parse_embeddings_request(std::string_view body, EmbeddingsRequest* out) {
  boost::json::value doc;
  if (auto e = parse_json_object_body(body, &doc)) return e;
  return parse_fields(doc.get_object(), out);
}

}  // namespace llmd::openai
