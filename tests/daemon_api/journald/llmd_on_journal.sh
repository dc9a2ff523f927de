#!/bin/sh
# llmd as systemd runs it under journald: its stdout and stderr are a journal
# stream (systemd-cat) and JOURNAL_STREAM names that stream, so llmd logs
# structured entries. The entries are relayed back to this script's stdout
# with journalctl (every entry of this process, structured or stream), so
# whoever started it reads llmd's log lines out of the journal. LLMD_REAL_BIN
# is the llmd to run; the arguments are llmd's.
ID="llmd-journal-$$"
# The relay ends once llmd (this pid, after exec) is gone and reaped.
(
  journalctl -f -n all -o cat --no-pager _PID=$$ &
  J=$!
  while kill -0 $$ 2>/dev/null; do sleep 0.1; done
  sleep 0.3
  kill "$J"
) &
exec systemd-cat -t "$ID" sh -c 'JOURNAL_STREAM=$(stat -L -c "%d:%i" /proc/self/fd/2); export JOURNAL_STREAM; exec "$0" "$@"' \
  "$LLMD_REAL_BIN" "$@"
