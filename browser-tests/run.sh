#!/usr/bin/env bash
# Browser tests: installs what they need (Debian's Chromium, playwright-core
# from npm; never a downloaded browser), builds the server, runs the tests.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ]; then
    npm ci --no-audit --no-fund
fi
(cd .. && cargo build -p tram)
export TRAM_BIN="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}/debug/tram"
export CHROMIUM="$(command -v chromium)"
node --test --test-concurrency=1 tests/
