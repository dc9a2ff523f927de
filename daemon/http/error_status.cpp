#include "daemon/http/error_status.hpp"

#include <algorithm>
#include <string>

#include "base/log.hpp"

namespace llmd::http {

namespace {
bool is_storage_failure(ErrorCode code) {
  using E = ErrorCode;
  return code == E::storage_error || code == E::storage_full || code == E::storage_read_only ||
         code == E::storage_io || code == E::storage_corrupt;
}
}  // namespace

int http_status(ErrorCode code) {
  using E = ErrorCode;
  switch (code) {
    case E::invalid_argument: case E::invalid_request: case E::invalid_parameter:
    case E::context_length_exceeded: case E::admin_field: case E::team_invalid: case E::key_invalid:
    case E::usage_invalid: case E::config_invalid: case E::path_not_allowed: case E::path_not_file:
    case E::device_unknown: case E::chat_template_error: case E::chat_bad_role: case E::usage:
    case E::chat_template_limit:
      return 400;
    case E::not_found: case E::model_not_found: case E::team_not_found: case E::key_not_found:
    case E::route_unknown: case E::no_file:
      return 404;
    case E::already_exists: case E::model_exists: case E::team_exists: case E::key_exists:
    case E::already_bootstrapped: case E::model_from_config: case E::model_state_conflict:
      return 409;
    case E::gguf_io: case E::gguf_not_regular_file: case E::gguf_bad_magic: case E::gguf_bad_version:
    case E::gguf_truncated: case E::gguf_count_too_large: case E::gguf_string_too_long: case E::gguf_bad_key:
    case E::gguf_duplicate_key: case E::gguf_bad_value_type: case E::gguf_nesting_too_deep:
    case E::gguf_bad_alignment: case E::gguf_bad_dims: case E::gguf_zero_dim: case E::gguf_dim_overflow:
    case E::gguf_bad_tensor_type: case E::gguf_bad_tensor_shape: case E::gguf_duplicate_tensor:
    case E::gguf_tensor_out_of_bounds: case E::gguf_misaligned: case E::model_unsupported_arch:
    case E::model_bad_metadata: case E::model_missing_tensor: case E::model_bad_tensor_shape:
    case E::model_bad_tensor_data: case E::model_unsupported_type: case E::model_unsupported_rope:
    case E::tokenizer_missing: case E::tokenizer_bad_metadata: case E::tokenizer_unsupported_model:
    case E::tokenizer_unsupported_pre: case E::tokenizer_bad_regex: case E::chat_template_unknown:
    case E::chat_template_unreadable: case E::chat_template_unrecognised: case E::model_failed:
    case E::chat_template_syntax:
    case E::cuda_unsupported: case E::kv_unsupported_dtype:
      return 422;
    case E::queue_full: case E::shutting_down: case E::backend_failed: case E::busy:
    case E::storage_error: case E::storage_busy: case E::storage_full: case E::storage_read_only:
    case E::storage_io: case E::storage_corrupt:
    case E::model_not_ready: case E::model_load_timeout: case E::timeout: case E::backend_parked:
      return 503;
    case E::insufficient_device_memory: case E::out_of_memory:
      return 507;
    default:
      return 500;
  }
}

std::string_view api_error_code(ErrorCode code) {
  using E = ErrorCode;
  switch (code) {
    case E::invalid_argument: case E::invalid_request: case E::invalid_parameter: case E::admin_field:
    case E::team_invalid: case E::key_invalid: case E::usage_invalid:
      return "invalid_value";
    case E::queue_full:
      return "server_overloaded";
    case E::storage_busy: case E::busy:
      return "server_busy";
    case E::storage_error: case E::storage_full: case E::storage_read_only: case E::storage_io:
    case E::storage_corrupt:
      return "storage_unavailable";
    default:
      return to_string(code);
  }
}

Response error_response_for(const Error& e, std::string_view param, int retry_after_s) {
  const int status = http_status(e.code);
  if (status == 500) {
    log::errorf("internal error (%s): %s", std::string(to_string(e.code)).c_str(), e.message.c_str());
    return error_response(500, "Internal error; see the server log.", "internal_error");
  }
  if (is_storage_failure(e.code)) {
    // The message may name files and SQLite's words: for the log only.
    log::errorf("storage failure (%s): %s", std::string(to_string(e.code)).c_str(), e.message.c_str());
    Response r = error_response(status, "The server cannot use its database right now; retry later.",
                                api_error_code(e.code), param);
    r.headers.set("retry-after", std::to_string(std::max(retry_after_s, 1)));
    return r;
  }
  Response r = error_response(status, e.message, api_error_code(e.code), param);
  if (status == 503) r.headers.set("retry-after", std::to_string(std::max(retry_after_s, 1)));
  return r;
}

}  // namespace llmd::http
