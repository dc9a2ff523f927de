#!/usr/bin/env bash
# Runs the admin console's browser tests (console.test.mjs) or its benchmark
# (bench_console.mjs: page weight and time to interactive, printed, not
# asserted) in headless Chromium against a real llmd over TLS.
#   run_console.sh test|bench SOURCE_DIR WORK_DIR LLMD_BINARY
# CHROMIUM overrides the browser binary. Exits 77 (skipped) when Chromium,
# Node or npm is missing, unless CI is set: then a missing browser fails.
set -euo pipefail

mode=$1
src=$2
work=$3
llmd=$4

missing() {
  if [ -n "${CI:-}" ]; then
    echo "FAILED: $1 (CI is set, so the browser test cannot be skipped)" >&2
    exit 1
  fi
  echo "SKIPPED: $1"
  exit 77
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing "Node.js and npm are needed for the console's browser tests (scripts/setup.sh installs them)"
fi
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
  missing "Chromium is needed for the console's browser tests (scripts/setup.sh installs Debian's chromium)"
fi

llmd=$(cd "$(dirname "$llmd")" && pwd)/$(basename "$llmd")
mkdir -p "$work"
work=$(cd "$work" && pwd)
cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$work/"
cd "$work"
# Exactly the locked puppeteer-core; it drives the system Chromium and downloads no browser.
PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --prefer-offline --loglevel=error

run=$(mktemp -d /tmp/llmd-console.XXXXXX)
trap 'rm -rf "$run"' EXIT
(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$run/key.pem" -out "$run/cert.pem" 2>/dev/null)
# Chromium trusts exactly this certificate (by its public key), nothing more.
spki=$(openssl x509 -in "$run/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)

export LLMD_CONSOLE_DIR=$run LLMD_BIN=$llmd CHROMIUM=$chromium LLMD_CERT_SPKI=$spki
export NODE_EXTRA_CA_CERTS=$run/cert.pem LLMD_CONSOLE_ARTIFACTS=$work/artifacts
if [ "$mode" = bench ]; then
  node bench_console.mjs
else
  rm -rf "$work/artifacts"
  node --test --test-concurrency=1 --test-reporter=spec console.test.mjs
fi
