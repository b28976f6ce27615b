#!/usr/bin/env bash
# Durable webhooks/s of the gateway vs a bare Hummingbird 2 server, side by side (issue 12).
# Needs wrk (apt-get install -y wrk). Loopback only. Extra arguments go to bench/ingest.py
# (--rounds, --seconds, --connections).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product switchboard --scratch-path .build-release >/dev/null
swift build -c release --product switchboard-bench-ceiling --scratch-path .build-release >/dev/null
exec python3 bench/ingest.py --binary .build-release/release/switchboard --ceiling .build-release/release/switchboard-bench-ceiling "$@"
