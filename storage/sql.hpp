// Sql: SQL text that is a compile-time constant.
//
// The storage layer prepares statements only from an Sql, and an Sql can only be
// made from a string literal (the constructor is consteval), so SQL text is never
// assembled from run-time strings: every value travels as a bound parameter.
#pragma once

#include <cstddef>

namespace llmd::storage {

class Sql {
 public:
  template <std::size_t N>
  consteval Sql(const char (&text)[N]) : text_(text) {}  // NOLINT(google-explicit-constructor)

  const char* c_str() const { return text_; }

 private:
  const char* text_;
};

}  // namespace llmd::storage
