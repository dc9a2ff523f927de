#include "tests/daemon_api/sse_events.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>

namespace llmd::test {

std::vector<boost::json::object> sse_data_objects(std::string_view body) {
  std::vector<boost::json::object> out;
  for (size_t at = body.find("\n\n"); at != std::string_view::npos; at = body.find("\n\n")) {
    const std::string_view ev = body.substr(0, at);
    body.remove_prefix(at + 2);
    if (ev.rfind("data: ", 0) != 0 || ev == "data: [DONE]") continue;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(ev.substr(6), ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "an SSE data event that is not a JSON object: " << ev;
      continue;
    }
    out.push_back(std::move(v.as_object()));
  }
  return out;
}

}  // namespace llmd::test
