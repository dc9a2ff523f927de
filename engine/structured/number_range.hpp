// Number bounds (minimum, maximum, exclusive forms) checked while a number is
// being written: a prefix is allowed only while some continuation of it lies
// in range, so a generator never writes itself into a number it cannot end.
//
// A number Frame holds the sign (flags bit 0), the integer part (value), the
// fraction so far (frac) with its digit count (b), and the phase of the
// number grammar (see json_matcher.cpp). Exponents are not allowed when the
// number has bounds.
#pragma once

#include "engine/structured/grammar.hpp"
#include "engine/structured/json_matcher.hpp"

namespace llmd::engine::structured {

inline constexpr uint8_t kNumNegative = 1;

// Some continuation of the prefix in `f` (including the prefix itself) is in range.
bool number_prefix_feasible(const Node& n, const Frame& f, bool integer);

// The value written so far is in range.
bool number_in_range(const Node& n, const Frame& f);

// The bounds admit at least one value (of the kind: integers need an integer).
bool number_range_nonempty(const Node& n, bool integer);

}  // namespace llmd::engine::structured
