// Result<T>: a value or an Error, returned instead of throwing on the data plane.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace llmd {

// A failure with a stable machine-readable code and a human-readable message.
struct Error {
  std::string code;     // short identifier, e.g. "gguf_truncated", "model_not_found"
  std::string message;  // full sentence for logs and API error bodies

  Error() = default;
  Error(std::string c, std::string m) : code(std::move(c)), message(std::move(m)) {}
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return error_; }
  Error take_error() { assert(!ok()); return std::move(error_); }

 private:
  std::optional<T> value_;
  Error error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : failed_(true), error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return error_; }
  Error take_error() { assert(!ok()); return std::move(error_); }

 private:
  bool failed_ = false;
  Error error_;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace llmd
