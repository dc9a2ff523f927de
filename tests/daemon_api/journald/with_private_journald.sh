#!/bin/bash
# Runs a command next to a journald of its own: in a private mount namespace,
# with tmpfs over /run and /var/log, systemd-journald is started there and the
# command runs with LLMD_TEST_JOURNALD=1 (so the tests that need a journal run
# instead of skipping). Nothing outside the namespace changes.
#
#   with_private_journald.sh COMMAND [ARGS...]
#
# Exit status: the command's; 77 (a skipped test for ctest) where this machine
# cannot do it: not root, no systemd-journald or journalctl, or no mount
# namespace.
set -u
JOURNALD=/lib/systemd/systemd-journald
[ -x "$JOURNALD" ] || JOURNALD=/usr/lib/systemd/systemd-journald
if [ "$(id -u)" != 0 ] || [ ! -x "$JOURNALD" ] || ! command -v journalctl >/dev/null || ! command -v unshare >/dev/null \
   || ! command -v systemd-cat >/dev/null; then
  echo "with_private_journald: needs root, systemd-journald, journalctl, systemd-cat and unshare; skipped"
  exit 77
fi
if [ "${1:-}" = "--inside" ]; then
  shift
  mount -t tmpfs -o mode=0755 tmpfs /run || exit 77
  mount -t tmpfs -o mode=0755 tmpfs /var/log || exit 77
  mkdir -p /run/systemd/journal /var/log/journal
  "$JOURNALD" &
  JPID=$!
  for _ in $(seq 1 100); do
    [ -S /run/systemd/journal/stdout ] && [ -S /run/systemd/journal/socket ] && break
    sleep 0.05
  done
  if [ ! -S /run/systemd/journal/stdout ]; then
    echo "with_private_journald: journald did not start; skipped"
    kill "$JPID" 2>/dev/null
    exit 77
  fi
  LLMD_TEST_JOURNALD=1 "$@"
  rc=$?
  kill "$JPID" 2>/dev/null
  wait "$JPID" 2>/dev/null
  exit $rc
fi
unshare -m --propagation private true 2>/dev/null || { echo "with_private_journald: no mount namespace; skipped"; exit 77; }
exec unshare -m --propagation private "$0" --inside "$@"
