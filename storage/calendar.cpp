#include "storage/calendar.hpp"

#include <chrono>
#include <cstdio>

namespace llmd::storage {
namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::sys_days;

int64_t to_ms(sys_days d) { return std::chrono::duration_cast<milliseconds>(d.time_since_epoch()).count(); }

}  // namespace

Periods periods_at(int64_t unix_ms) {
  // floor, so that times before 1970 still land in the right day.
  auto day_point = std::chrono::floor<days>(std::chrono::sys_time<milliseconds>(milliseconds(unix_ms)));
  std::chrono::year_month_day ymd{day_point};
  int y = static_cast<int>(ymd.year());
  unsigned m = static_cast<unsigned>(ymd.month());
  unsigned d = static_cast<unsigned>(ymd.day());
  char day_buf[16];
  char month_buf[16];
  std::snprintf(day_buf, sizeof day_buf, "%04d-%02u-%02u", y, m, d);
  std::snprintf(month_buf, sizeof month_buf, "%04d-%02u", y, m);

  Periods p;
  p.day = day_buf;
  p.month = month_buf;
  p.day_end_ms = to_ms(day_point + days(1));
  auto next_month = std::chrono::year_month{ymd.year(), ymd.month()} + std::chrono::months(1);
  p.month_end_ms = to_ms(sys_days(next_month / std::chrono::day(1)));
  return p;
}

std::optional<int64_t> parse_day(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto digits = [&](size_t from, size_t n, int* out) {
    int v = 0;
    for (size_t i = from; i < from + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y = 0, m = 0, d = 0;
  if (!digits(0, 4, &y) || !digits(5, 2, &m) || !digits(8, 2, &d)) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m)),
                                  std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  return to_ms(sys_days(ymd));
}

}  // namespace llmd::storage
