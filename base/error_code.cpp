#include "base/error_code.hpp"

#include <array>
#include <ostream>

namespace llmd {
namespace {

constexpr std::array kNames = {
#define LLMD_ERROR_CODE_NAME(name) std::string_view(#name),
    LLMD_ERROR_CODES(LLMD_ERROR_CODE_NAME)
#undef LLMD_ERROR_CODE_NAME
};

}  // namespace

std::string_view to_string(ErrorCode code) {
  const auto i = static_cast<size_t>(code);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

std::optional<ErrorCode> error_code_from_string(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<ErrorCode>(i);
  }
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, ErrorCode code) { return os << to_string(code); }

}  // namespace llmd
