#!/usr/bin/env bash
# Runs the OpenAI compatibility suite (compat.test.mjs and embeddings.test.mjs,
# Node's test runner with the official `openai` package) against a real llmd
# over TLS.
#   run_compat.sh SOURCE_DIR WORK_DIR LLMD_BINARY SHARED_DIR
# The model is SHARED_DIR/models/stories260K.gguf (LLMD_SHARED_DIR overrides
# SHARED_DIR). Exits 77 (skipped) when the model file or Node is missing.
set -euo pipefail

src=$1
work=$2
llmd=$3
model=${LLMD_SHARED_DIR:-$4}/models/stories260K.gguf

if [ ! -f "$model" ]; then
  echo "SKIPPED: $model is absent (the compatibility suite serves the stories260K reference model)"
  exit 77
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIPPED: Node.js and npm are needed for the compatibility suite (scripts/setup.sh installs them)"
  exit 77
fi

llmd=$(cd "$(dirname "$llmd")" && pwd)/$(basename "$llmd")
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$work/"
cd "$work"
# Exactly the locked client version; the npm cache makes repeated runs fast.
npm ci --no-audit --no-fund --prefer-offline --loglevel=error

run=$(mktemp -d /tmp/llmd-compat.XXXXXX)
trap 'rm -rf "$run"' EXIT
(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$run/key.pem" -out "$run/cert.pem" 2>/dev/null)

# A synthetic qwen3 embedding model (last-token pooling) for embeddings.test.mjs.
"$llmd" gguf synth --shape test-qwen3-embed --type q8_0 -o "$run/embed.gguf" --threads 1 >/dev/null

LLMD_COMPAT_DIR=$run LLMD_BIN=$llmd LLMD_MODEL=$model LLMD_EMBED_MODEL=$run/embed.gguf \
  NODE_EXTRA_CA_CERTS=$run/cert.pem \
  node --test --test-concurrency=1 --test-reporter=spec compat.test.mjs embeddings.test.mjs
