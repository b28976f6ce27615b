#!/usr/bin/env bash
# How many open widget WebSockets one gateway process holds, and the memory they cost.
# Loopback only; bounded (--connections ≤ 30000). Needs python3 (standard library only).
#
#   bench/widget-connections.sh                      # 10,000 connections, held 35 s
#   bench/widget-connections.sh --connections 2000   # fewer
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=10000
HOLD=35
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

# Each connection is a socket on both ends; stay under the process's descriptor limit.
ulimit -n "$(( CONNECTIONS * 2 + 1024 > 20000 ? CONNECTIONS * 2 + 1024 : 20000 ))" 2>/dev/null || true

echo "== building switchboard (release)" >&2
swift build -c release --product switchboard >&2
BIN="$(swift build -c release --show-bin-path)/switchboard"

WORK="$(mktemp -d)"
SECRET="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PORT=$(( 20000 + RANDOM % 10000 ))
mkdir -p "$WORK/channels"
cat > "$WORK/config.yaml" <<YAML
server: { listen: "127.0.0.1:$PORT" }
employees:
  - id: alexey
    name: Alexey
YAML
cat > "$WORK/channels/widget.yaml" <<YAML
type: widget
id: web
employee: alexey
token_secret: $SECRET
YAML

"$BIN" serve --config "$WORK/config.yaml" --log-level warning &
GATEWAY=$!
trap 'kill "$GATEWAY" 2>/dev/null; wait "$GATEWAY" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.1
done

echo "== $CONNECTIONS connections to 127.0.0.1:$PORT (gateway pid $GATEWAY)" >&2
python3 bench/widget_connections.py --port "$PORT" --pid "$GATEWAY" --connections "$CONNECTIONS" --hold "$HOLD" --secret "$SECRET"
