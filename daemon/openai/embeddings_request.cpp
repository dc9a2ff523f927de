#include "daemon/openai/embeddings_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

#include <cstdint>

#include "daemon/openai/request_fields.hpp"
#include "daemon/openai/unimplemented_fields.hpp"

namespace llmd::openai {
namespace {

std::string at(std::string_view param, size_t i) { return std::string(param) + "[" + std::to_string(i) + "]"; }

std::optional<ApiError> parse_ids(const boost::json::array& a, const std::string& param, std::vector<int64_t>* out) {
  if (a.empty()) return invalid_param(param, "'" + param + "' must not be empty.");
  out->reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    std::optional<int64_t> id = json_integer(a[i]);
    if (!id) return wrong_type(at(param, i), "an integer token id", a[i]);
    if (*id < 0) return invalid_param(at(param, i), "Token ids must not be negative (got " + std::to_string(*id) + ").");
    out->push_back(*id);
  }
  return std::nullopt;
}

std::optional<ApiError> parse_input(const boost::json::value& v, std::vector<PromptInput>* out) {
  auto empty = [] { return invalid_param("input", "'input' must not be empty."); };
  if (v.is_string()) {
    if (v.get_string().empty()) return empty();
    out->push_back(PromptInput{std::string(v.get_string()), {}, false});
    return std::nullopt;
  }
  if (!v.is_array()) return wrong_type("input", "a string, an array of strings or an array of token ids", v);
  const auto& arr = v.get_array();
  if (arr.empty()) return empty();
  if (arr[0].is_number()) {  // one input of token ids
    PromptInput p;
    p.is_ids = true;
    if (auto e = parse_ids(arr, "input", &p.ids)) return e;
    out->push_back(std::move(p));
    return std::nullopt;
  }
  if (arr.size() > static_cast<size_t>(kMaxEmbeddingInputs)) {
    return invalid_param("input", "At most " + std::to_string(kMaxEmbeddingInputs) +
                                      " inputs may be sent at once (got " + std::to_string(arr.size()) + ").");
  }
  const bool strings = arr[0].is_string();
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string param = at("input", i);
    PromptInput p;
    if (strings) {
      if (!arr[i].is_string()) return wrong_type(param, "a string", arr[i]);
      if (arr[i].get_string().empty()) return invalid_param(param, "'" + param + "' must not be empty.");
      p.text = std::string(arr[i].get_string());
    } else {
      if (!arr[i].is_array()) return wrong_type(param, "an array of token ids", arr[i]);
      p.is_ids = true;
      if (auto e = parse_ids(arr[i].get_array(), param, &p.ids)) return e;
    }
    out->push_back(std::move(p));
  }
  return std::nullopt;
}

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
  if (auto e = parse_input(*input, &r->inputs)) return e;

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
  boost::json::parse_options opts;
  opts.max_depth = kJsonMaxDepth;
  std::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec, {}, opts);
  if (ec) {
    return ApiError{400,
                    "We could not parse the JSON body of your request (" + ec.message() +
                        "). The body must be a JSON object in UTF-8.",
                    "invalid_json", ""};
  }
  if (!doc.is_object()) {
    return ApiError{400, "The request body must be a JSON object, not " + std::string(json_type_name(doc)) + ".",
                    "invalid_json", ""};
  }
  return parse_fields(doc.get_object(), out);
}

}  // namespace llmd::openai
