// The command-line side of `llmctl models ...`: checking a command's words and
// options, and turning them into the JSON bodies of the admin API's model
// requests. Pure functions (no I/O), so that they are unit-tested.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "tools/llmctl/cli_args.hpp"

namespace llmd::llmctl {

// Fails (code usage) naming the first option or flag that `command` does not
// take. The global ones (--url, --key, --key-file, --cacert, --insecure,
// --json, --help) are always allowed. A flag given a value (`--wait=yes`) is
// refused too.
Status check_options(const Args& args, std::string_view command, std::initializer_list<std::string_view> options,
                     std::initializer_list<std::string_view> flags);

// Fails (code usage) unless args.positional has `count` words: the command's
// words and its operands. `synopsis` is shown in the message ("models show ID").
Status check_operands(const Args& args, size_t count, std::string_view synopsis);

// A whole number in 0..max, for `--flag`. Errors: usage.
Result<uint64_t> parse_count(std::string_view flag, std::string_view text, uint64_t max);

// A size in bytes: a whole number with an optional binary unit, K/KiB, M/MiB,
// G/GiB or T/TiB (case-insensitive; "4GiB", "512M", "1048576"), at most
// INT64_MAX. Errors: usage.
Result<uint64_t> parse_bytes(std::string_view flag, std::string_view text);

// `models add ID PATH [--device D] [--alias A]... [--context-length N]
// [--max-sequences N] [--kv-cache-bytes N] [--pinned] [--keep-alive S]
// [--no-load] [--wait]` -> the body of POST /admin/v1/models. It never asks
// the server to wait ("wait" is left out): llmctl polls so that it can show
// progress. Errors: usage.
Result<boost::json::object> add_model_body(const Args& args);

// `models load ID [--device D] [--wait]` -> the body of POST .../load.
Result<boost::json::object> load_model_body(const Args& args);

}  // namespace llmd::llmctl
