#include "engine/structured/number_range.hpp"

#include <cmath>

namespace llmd::engine::structured {
namespace {

bool has_bounds(const Node& n) { return n.minimum.has_value() || n.maximum.has_value(); }

bool above_min(const Node& n, double v) {
  return !n.minimum || (n.exclusive_minimum ? v > *n.minimum : v >= *n.minimum);
}
bool below_max(const Node& n, double v) {
  return !n.maximum || (n.exclusive_maximum ? v < *n.maximum : v <= *n.maximum);
}

// Some value of the interval from lo to hi (either end open when its flag is
// set: the values a fraction can still reach) is in range.
bool meets(const Node& n, double lo, double hi, bool open_lo, bool open_hi) {
  if (n.maximum && !(open_lo || n.exclusive_maximum ? lo < *n.maximum : lo <= *n.maximum)) return false;
  if (n.minimum && !(open_hi || n.exclusive_minimum ? hi > *n.minimum : hi >= *n.minimum)) return false;
  return lo <= hi;
}

// Magnitudes [lo, hi] (hi open when `open_hi`) mapped to signed values.
bool meets_signed(const Node& n, bool negative, double lo, double hi, bool open_hi) {
  return negative ? meets(n, -hi, -lo, open_hi, false) : meets(n, lo, hi, false, open_hi);
}

double fraction(const Frame& f) { return f.b > 0 ? f.frac / std::pow(10.0, f.b) : 0.0; }

}  // namespace

bool number_prefix_feasible(const Node& n, const Frame& f, bool integer) {
  if (!has_bounds(n)) return true;
  const bool neg = (f.flags & kNumNegative) != 0;
  const double ip = f.value;
  const int32_t int_digits = f.a;
  switch (f.phase) {
    case 0: return true;
    case 1:  // "-" alone: any negative value of at most kMaxIntDigits digits
      return meets_signed(n, true, 0.0, std::pow(10.0, kMaxIntDigits), false);
    case 2: {  // integer digits: ip itself, or ip followed by j more digits
      for (int32_t j = 0; j + int_digits <= kMaxIntDigits; ++j) {
        const double scale = std::pow(10.0, j);
        const double lo = ip * scale;
        const double hi = integer ? (ip + 1) * scale - 1 : (ip + 1) * scale;
        if (meets_signed(n, neg, lo, hi, !integer)) return true;
      }
      return false;
    }
    case 3:  // "0" or "-0"
      return integer ? meets_signed(n, neg, 0.0, 0.0, false) : meets_signed(n, neg, 0.0, 1.0, true);
    case 4:  // "I."
      return meets_signed(n, neg, ip, ip + 1.0, true);
    case 5: {  // "I.F"
      const double lo = ip + fraction(f);
      if (f.b >= kMaxFracDigits) return meets_signed(n, neg, lo, lo, false);
      return meets_signed(n, neg, lo, lo + std::pow(10.0, -f.b), true);
    }
    default: return true;
  }
}

bool number_in_range(const Node& n, const Frame& f) {
  if (!has_bounds(n)) return true;
  double v = f.value + fraction(f);
  if (f.flags & kNumNegative) v = -v;
  return above_min(n, v) && below_max(n, v);
}

bool number_range_nonempty(const Node& n, bool integer) {
  const double limit = std::pow(10.0, kMaxIntDigits) - 1;
  double lo = n.minimum ? *n.minimum : -limit, hi = n.maximum ? *n.maximum : limit;
  if (lo > limit || hi < -limit) return false;
  if (integer) {
    double a = std::ceil(lo), b = std::floor(hi);
    if (n.minimum && n.exclusive_minimum && a == lo) a += 1;
    if (n.maximum && n.exclusive_maximum && b == hi) b -= 1;
    return a <= b;
  }
  if ((n.exclusive_minimum || n.exclusive_maximum) && n.minimum && n.maximum) return lo < hi;
  return lo <= hi;
}

}  // namespace llmd::engine::structured
