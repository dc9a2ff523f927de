// UTC calendar periods for budgets and reports: the day ("YYYY-MM-DD") and month
// ("YYYY-MM") containing a time, and when each ends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmd::storage {

struct Periods {
  std::string day;            // "2025-01-31"
  std::string month;          // "2025-01"
  int64_t day_end_ms = 0;     // first millisecond of the next UTC day
  int64_t month_end_ms = 0;   // first millisecond of the next UTC month
};

// The periods containing `unix_ms` (milliseconds since the epoch, UTC).
Periods periods_at(int64_t unix_ms);

// Parses "YYYY-MM-DD" into the millisecond at which that UTC day starts.
std::optional<int64_t> parse_day(std::string_view day);

}  // namespace llmd::storage
