// Result<T>: a value or an Error, returned instead of throwing on the data plane.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/error_code.hpp"

namespace llmd {

// A failure with a code from the one vocabulary (base/error_code.hpp) and a
// human-readable message.
struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;  // full sentence for logs and API error bodies

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}

  std::string_view code_name() const { return to_string(code); }
  // The same code with `prefix` put before the message ("model 'x': ...").
  Error with_context(std::string_view prefix) const& { return Error(code, std::string(prefix) + message); }
  Error with_context(std::string_view prefix) && {
    message.insert(0, prefix);
    return std::move(*this);
  }
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
  // The value, or `fallback` when this holds an Error.
  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

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

// The one propagation macro: evaluates `expr` (a Result<T> or Status) and
// returns its Error from the enclosing function (whose result type is
// constructible from llmd::Error) when it failed.
#define LLMD_TRY(expr)                                        \
  do {                                                        \
    auto&& llmd_try_r_ = (expr);                              \
    if (!llmd_try_r_.ok()) return llmd_try_r_.take_error();   \
  } while (0)
