// The JSON objects of a whole Server-Sent Events body as the OpenAI routes
// write it ("data: {...}\n\n" events, ending with "data: [DONE]").
#pragma once

#include <boost/json/object.hpp>

#include <string_view>
#include <vector>

namespace llmd::test {

// Each "data:" event's object, in order; comment lines and [DONE] are
// skipped. A data event that is not a JSON object fails the current test.
std::vector<boost::json::object> sse_data_objects(std::string_view body);

}  // namespace llmd::test
