// Logging to the systemd journal with structured fields: when llmd's stderr
// is the journal's stream (JOURNAL_STREAM names it), records go through
// sd_journal_sendv() instead, with MESSAGE=, PRIORITY=, SYSLOG_IDENTIFIER=llmd
// and the record's fields (MODEL=, TEAM=, REQUEST_ID= on request lines), so
// that `journalctl -u llmd MODEL=qwen` finds a model's requests.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.hpp"

namespace llmd::daemon {

// Whether `journal_stream` (JOURNAL_STREAM's "device:inode") is the file
// that `fd` refers to: systemd sets it when it connects stdout/stderr to the
// journal; a stderr redirected elsewhere since then no longer matches.
bool journal_stream_matches(std::string_view journal_stream, int fd);

// The journal entry of one record, "NAME=value" each: MESSAGE, PRIORITY,
// SYSLOG_IDENTIFIER, then the fields whose names are valid journal field
// names (others are dropped: the message carries them anyway).
std::vector<std::string> journal_entry(log::Level level, std::string_view message,
                                       std::span<const log::Field> fields);

// Installs the journal sink when stderr is the journal's stream; true then.
bool use_journal_when_connected();

}  // namespace llmd::daemon
