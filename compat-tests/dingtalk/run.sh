#!/usr/bin/env bash
# Wire compatibility with a real DingTalk robot client from PyPI
# (DingtalkChatbot, used unchanged except for its webhook address): builds
# the server, makes a virtualenv here with the pinned client, starts
# `tram serve` on a free port with a fresh data directory and runs the test.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if ! .venv/bin/python -c "import dingtalkchatbot.chatbot, requests" 2>/dev/null; then
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
(cd ../.. && cargo build -p tram)
export TRAM_BIN="${CARGO_TARGET_DIR:-$(cd ../.. && pwd)/target}/debug/tram"
exec .venv/bin/python test_dingtalkchatbot.py
