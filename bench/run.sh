#!/usr/bin/env bash
# The throughput benches of issue 12 in one go (release builds into .build-release/), each
# printing its summary: ingest vs a bare server (needs wrk), a million armed chats (RSS, idle
# CPU), pacing against a refusing provider, and the reminder drain. About 20 minutes in all on
# 2 cores, most of it populating the million chats; SCALE_CHATS=200000 shortens that.
# Then issue 13's PostgreSQL ingest, 1 vs 3 processes (about 2 minutes; needs the postgresql
# package). The PostgreSQL drain takes over 10 minutes and runs on its own: bench/drain_pg.py.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product switchboard --scratch-path .build-release >/dev/null
swift build -c release --product switchboard-bench --scratch-path .build-release >/dev/null
swift build -c release --product switchboard-bench-ceiling --scratch-path .build-release >/dev/null
BIN=.build-release/release
echo "== ingest";  python3 bench/ingest.py --binary $BIN/switchboard --ceiling $BIN/switchboard-bench-ceiling --rounds 3 --seconds 10 2>/dev/null
echo "== scale";   python3 bench/scale.py --binary $BIN/switchboard --bench $BIN/switchboard-bench --chats "${SCALE_CHATS:-1000000}" 2>/dev/null
echo "== pacing";  $BIN/switchboard-bench pacing 3000 2>/dev/null | grep '^-'
echo "== drain (store calls per reminder as before, then the batched pipeline)"
$BIN/switchboard-bench drain 20000 --batch 1,256 2>/dev/null | grep "^[#-]"
echo "== ingest on PostgreSQL, 1 vs 3 processes"; python3 bench/ingest_pg.py --binary $BIN/switchboard --rounds 3 --seconds 10 2>/dev/null
