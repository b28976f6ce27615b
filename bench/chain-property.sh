#!/usr/bin/env bash
# The chain property test (Tests/SwitchboardSchedulerTests/ChainPropertyTests.swift) with many
# more cases than CI runs: random interleavings of messages, reloads, switches, provider and
# composer faults, crashes and restarts against the real SQLite store.
#   bench/chain-property.sh [CASES] [EVENTS_PER_CASE] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export SWITCHBOARD_PROPERTY_CASES="${1:-20000}" SWITCHBOARD_PROPERTY_EVENTS="${2:-40}"
[ -n "${3:-}" ] && export SWITCHBOARD_PROPERTY_SEED="$3"
swift build --build-tests >/dev/null
time swift test --skip-build --filter ChainPropertyTests
