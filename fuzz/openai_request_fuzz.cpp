// Fuzz target: the OpenAI request parser (daemon/openai): a body of
// /v1/chat/completions or /v1/completions (the input's length picks which)
// into a CompletionRequest, or a 400 naming the parameter. Invariants on
// what it accepts: 1 <= n, at most kMaxStopStrings stop strings and none
// empty, completions carry 1..kMaxPrompts prompts, chat at least one message;
// a refusal is a 4xx with a message.
#include <string_view>

#include "daemon/openai/api_request.hpp"
#include "fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llmd::openai;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  for (Endpoint endpoint : {Endpoint::chat, Endpoint::completions}) {
    CompletionRequest req;
    auto err = parse_completion_request(endpoint, body, &req);
    if (err) {
      fuzz_check(err->status >= 400 && err->status < 500);
      fuzz_check(!err->message.empty());
      continue;
    }
    fuzz_check(req.n >= 1);
    fuzz_check(req.stop.size() <= static_cast<std::size_t>(kMaxStopStrings));
    for (const auto& s : req.stop) fuzz_check(!s.empty());
    if (endpoint == Endpoint::completions) {
      fuzz_check(!req.prompts.empty() && req.prompts.size() <= static_cast<std::size_t>(kMaxPrompts));
    } else {
      fuzz_check(!req.messages.empty());
    }
    if (req.max_tokens) fuzz_check(*req.max_tokens >= 0);
  }
  return 0;
}
