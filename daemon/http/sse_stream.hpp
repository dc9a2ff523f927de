// Server-sent events over an Exchange: the "text/event-stream" framing the
// OpenAI API streams completions in ("data: {...}\n\n" ... "data: [DONE]\n\n").
#pragma once

#include <string>
#include <string_view>

#include "daemon/http/exchange.hpp"

namespace llmd::http::sse {

// Starts the stream: 200, content-type text/event-stream, no caching or proxy
// buffering, plus `extra` headers.
bool begin(Exchange& ex, Headers extra = {});

// One event; `name` may be empty (the default "message" event). Data with line
// breaks becomes several "data:" lines, as the format requires.
std::string format_event(std::string_view name, std::string_view data);

bool send_data(Exchange& ex, std::string_view data);
bool send_event(Exchange& ex, std::string_view name, std::string_view data);
// A comment line (": text"), ignored by clients; keeps idle streams alive.
bool send_comment(Exchange& ex, std::string_view text);
// "data: [DONE]" and the end of the stream.
bool send_done(Exchange& ex);

}  // namespace llmd::http::sse
