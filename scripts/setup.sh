#!/usr/bin/env bash
# Installs the Debian packages llmd needs to build, run and test.
# Idempotent: when everything is present it only checks and returns.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config git
  # libraries
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl
  libsqlite3-dev sqlite3
  libsystemd-dev systemd procps  # procps: /bin/kill, the unit's ExecReload=
  libtomlplusplus-dev
  libpcre2-dev
  prometheus-cpp-dev
  # tests
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev  # the libFuzzer targets (scripts/fuzz.sh)
  python3 python3-numpy python3-jinja2
  prometheus  # promtool checks the /metrics exposition
  dpkg-dev lintian adduser  # the Debian package: dpkg-shlibdeps (CPack), lintian, its Depends
  chromium  # the admin console's browser tests (puppeteer-core drives it)
  curl ca-certificates
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

# Node.js + npm bundle the admin console's charting library at build time (npm ci
# of console/package-lock.json) and run the OpenAI-client compatibility and
# console browser tests; any recent install will do.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
