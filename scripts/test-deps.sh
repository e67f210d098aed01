#!/usr/bin/env bash
# System packages the tests and benchmarks use beyond Python's: installed once if missing.
set -euo pipefail

missing=()
command -v git >/dev/null || missing+=(git)
command -v wrk >/dev/null || missing+=(wrk)
# The dashboard's browser test drives Debian's chromium: Playwright's own browser download
# cannot reach its servers from our machines.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# ...which injects axe-core, from npm, into every page (tests/web/axe.py names the same place).
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-deps: please install: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

AXE_VERSION=4.14.1
AXE_DIR="${KEYPLANE_TEST_CACHE:-$HOME/.cache/keyplane}/axe-core-$AXE_VERSION"
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
  npm install --silent --no-audit --no-fund --no-save --prefix "$AXE_DIR" "axe-core@$AXE_VERSION"
fi
