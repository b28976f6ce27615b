#!/usr/bin/env bash
# Signed webhook requests per second on the http channel: a release gateway on 127.0.0.1,
# SQLite, the offline composer, every message stored before its 200. Loopback only; bounded
# (≤ 20000 requests and ≤ 600 s per round). Needs python3 (standard library only).
#
#   bench/http-webhook.sh                               # 2000 requests × 3 rounds, 16 connections, then batches of 100
#   bench/http-webhook.sh --requests 5000 --concurrency 32
#   BENCH_SKIP_BUILD=1 bench/http-webhook.sh            # reuse the last release build
#   SWITCHBOARD_BIN=.build/debug/switchboard BENCH_SKIP_BUILD=1 bench/http-webhook.sh --requests 200   # smoke test
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
  echo "== building switchboard (release)" >&2
  swift build -c release --product switchboard --scratch-path .build-release >&2
fi
BIN="${SWITCHBOARD_BIN:-.build-release/release/switchboard}"

WORK="$(mktemp -d)"
SECRET="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PORT=$(( 20000 + RANDOM % 10000 ))
SINK_PORT=$(( PORT + 1 ))
mkdir -p "$WORK/channels"
cat > "$WORK/config.yaml" <<YAML
server: { listen: "127.0.0.1:$PORT" }
employees:
  - id: alexey
    name: Alexey
YAML
cat > "$WORK/channels/bench.yaml" <<YAML
type: http
id: bench
employee: alexey
secret: $SECRET
outbound_url: http://127.0.0.1:$SINK_PORT/messages
YAML

# The gateway's log goes to a file: once the load generator exits, its replies to the stopped
# sink are retried and logged, which is no news.
"$BIN" serve --config "$WORK/config.yaml" --log-level warning > "$WORK/gateway.log" 2>&1 &
GATEWAY=$!
trap 'kill "$GATEWAY" 2>/dev/null; wait "$GATEWAY" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.1
done

echo "== http channel webhooks at 127.0.0.1:$PORT (gateway pid $GATEWAY)" >&2
python3 bench/http_webhook.py --port "$PORT" --sink-port "$SINK_PORT" --secret "$SECRET" "$@"
