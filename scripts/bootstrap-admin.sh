#!/usr/bin/env bash
# Creates the first admin key of a development llmd on its first start.
#   scripts/bootstrap-admin.sh LLMD_BINARY CONFIG KEY_FILE
# When KEY_FILE does not exist yet, runs `llmd bootstrap-admin`, keeps the key in
# KEY_FILE (mode 0600, inside the git-ignored state directory) and prints
#   export LLMD_ADMIN_KEY=...
# Later starts print nothing: the key is shown on the first start only.
set -euo pipefail

llmd=$1
config=$2
key_file=$3

[ -e "$key_file" ] && exit 0

set +e
key=$("$llmd" bootstrap-admin --config "$config")
status=$?
set -e
case $status in
  0)
    (umask 077 && printf '%s\n' "$key" > "$key_file")
    echo "First admin key (shown once; also kept in $key_file):"
    echo "export LLMD_ADMIN_KEY=$key"
    ;;
  3)
    echo "An admin key already exists for this state directory; create more with: llmctl keys create --role admin ..." >&2
    ;;
  *)
    echo "bootstrap-admin failed (exit $status)" >&2
    exit "$status"
    ;;
esac
