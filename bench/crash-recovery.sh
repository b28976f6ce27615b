#!/usr/bin/env bash
# Kill -9 a release `switchboard serve` mid-stream and mid-reminder-wave, five rounds; see
# bench/crash_recovery.py for what is checked. Loopback only. Extra arguments go to the script
# (--rounds, --updates, --connections, --chats, --time-scale, --seed).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product switchboard --scratch-path .build-release >/dev/null
exec python3 bench/crash_recovery.py --binary .build-release/release/switchboard "$@"
