// The one vocabulary of error codes. Every module returns these in an Error;
// callers branch on the enum, never on message text. to_string() gives the
// stable snake_case name that logs and API error bodies show; the daemon maps
// each code to an HTTP status in one place (daemon/http/error_status.cpp).
//
// Adding a code: one line in LLMD_ERROR_CODES (grouped by the module that
// raises it); the name is also its string.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string_view>

// X(name): one entry per code.
#define LLMD_ERROR_CODES(X)                                                                  \
  /* generic */                                                                              \
  X(internal) X(invalid_argument) X(not_found) X(already_exists) X(unsupported)             \
  X(io_error) X(out_of_memory) X(timeout) X(busy) X(shutting_down) X(test)                  \
  /* configuration and command line */                                                      \
  X(config_invalid) X(config_unreadable) X(invalid_config) X(usage) X(state_dir_invalid)   \
  X(state_dir_locked) X(url_invalid) X(connect_failed) X(bad_answer) X(random_failed)      \
  /* GGUF files */                                                                          \
  X(gguf_io) X(gguf_not_regular_file) X(gguf_bad_magic) X(gguf_bad_version)                 \
  X(gguf_truncated) X(gguf_count_too_large) X(gguf_string_too_long) X(gguf_bad_key)        \
  X(gguf_duplicate_key) X(gguf_bad_value_type) X(gguf_nesting_too_deep)                     \
  X(gguf_bad_alignment) X(gguf_bad_dims) X(gguf_zero_dim) X(gguf_dim_overflow)              \
  X(gguf_bad_tensor_type) X(gguf_bad_tensor_shape) X(gguf_duplicate_tensor)                 \
  X(gguf_tensor_out_of_bounds) X(gguf_misaligned) X(no_file)                                \
  /* models, tokenizers, chat templates, synthetic models */                                \
  X(model_unsupported_arch) X(model_bad_metadata) X(model_missing_tensor)                   \
  X(model_bad_tensor_shape) X(model_bad_tensor_data) X(model_unsupported_type)              \
  X(model_unsupported_rope) X(tokenizer_missing) X(tokenizer_bad_metadata)                  \
  X(tokenizer_unsupported_model) X(tokenizer_unsupported_pre) X(tokenizer_no_regex)         \
  X(tokenizer_bad_regex) X(chat_template_unknown) X(chat_template_unreadable)               \
  X(chat_template_unrecognised) X(chat_template_error) X(chat_bad_role)                     \
  X(chat_template_syntax) X(chat_template_limit)                                            \
  X(synth_bad_shape) X(synth_bad_type) X(bad_shape)                                         \
  /* backends */                                                                            \
  X(bad_backend) X(no_gpu) X(cpu_bad_threads) X(cpu_isa_unavailable) X(pack_bad_shape)     \
  X(pack_empty) X(pack_mismatch) X(forward_bad_batch) X(kv_not_initialized)                 \
  X(kv_bad_shape) X(kv_unsupported_dtype) X(kv_bad_block) X(cuda_error) X(cuda_fatal)       \
  X(cublas_error) X(cuda_unsupported) X(backend_failed) X(backend_parked)                   \
  /* scheduler */                                                                           \
  X(invalid_request) X(invalid_parameter) X(context_length_exceeded) X(queue_full)          \
  X(engine_error)                                                                           \
  /* model manager */                                                                       \
  X(model_not_found) X(model_exists) X(model_from_config) X(model_not_ready)                \
  X(model_failed) X(model_load_timeout) X(device_unknown) X(insufficient_device_memory)     \
  X(path_not_allowed) X(path_not_file) X(model_state_conflict)                              \
  /* storage */                                                                             \
  X(storage_error) X(storage_busy) X(storage_constraint) X(storage_schema_too_new)          \
  X(storage_full) X(storage_read_only) X(storage_io) X(storage_corrupt)                     \
  /* auth and admin */                                                                      \
  X(already_bootstrapped) X(key_exists) X(key_invalid) X(key_not_found) X(team_exists)     \
  X(team_invalid) X(team_not_found) X(usage_invalid) X(admin_field)                         \
  /* HTTP server and TLS */                                                                 \
  X(listen_failed) X(server_started) X(route_duplicate) X(route_invalid) X(route_unknown)  \
  X(tls_setup) X(tls_key) X(tls_certificate) X(tls_failed)

namespace llmd {

enum class ErrorCode : uint16_t {
#define LLMD_ERROR_CODE_ENUM(name) name,
  LLMD_ERROR_CODES(LLMD_ERROR_CODE_ENUM)
#undef LLMD_ERROR_CODE_ENUM
};

// The code's name ("gguf_truncated").
std::string_view to_string(ErrorCode code);
// The code with that name, or nullopt.
std::optional<ErrorCode> error_code_from_string(std::string_view name);
// Writes the name (test failure messages, logs).
std::ostream& operator<<(std::ostream& os, ErrorCode code);

}  // namespace llmd
