#!/usr/bin/env bash
# Resident memory and idle CPU with an empty store vs 1,000,000 armed chats (issue 12).
# Extra arguments go to bench/scale.py (--chats, --settle, --idle).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product switchboard --scratch-path .build-release >/dev/null
swift build -c release --product switchboard-bench --scratch-path .build-release >/dev/null
exec python3 bench/scale.py --binary .build-release/release/switchboard --bench .build-release/release/switchboard-bench "$@"
