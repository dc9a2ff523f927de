// The names of the priority classes (request.hpp).
#include "scheduler/request.hpp"

namespace llmd::scheduler {

std::string_view to_string(Priority p) { return p == Priority::batch ? "batch" : "interactive"; }

bool parse_priority(std::string_view text, Priority* out) {
  if (text == "interactive") {
    *out = Priority::interactive;
  } else if (text == "batch") {
    *out = Priority::batch;
  } else {
    return false;
  }
  return true;
}

}  // namespace llmd::scheduler
