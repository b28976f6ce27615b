#!/usr/bin/env bash
# Hostile-input fuzzing of a real `switchboard serve` on 127.0.0.1 (see bench/fuzz.py for what
# is sent and reported). Loopback only; bounded (--cases ≤ 2,000,000). Needs python3 (standard
# library only) and curl.
#
#   bench/fuzz.sh                          # 100,000 cases, seed 20261123
#   bench/fuzz.sh --cases 20000 --seed 7   # fewer, another seed
set -euo pipefail
cd "$(dirname "$0")/.."

CASES=100000
SEED=20261123
CONCURRENCY=32
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cases) CASES="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
ulimit -n 8192 2>/dev/null || true

echo "== building switchboard (release)" >&2
[ -n "${FUZZ_BIN:-}" ] || swift build -c release --product switchboard >&2
BIN="${FUZZ_BIN:-$(swift build -c release --show-bin-path)/switchboard}"

WORK="$(mktemp -d)"
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ADMIN_TOKEN="fuzz-admin-$(random_hex 16)"
TG_SECRET="fuzz-tg-$(random_hex 16)"
WIDGET_SECRET="fuzz-widget-$(random_hex 24)"
PORT=$(( 20000 + RANDOM % 10000 ))
TG_PORT=$(( PORT + 1 ))
BODY_TIMEOUT=5
mkdir -p "$WORK/channels"
cat > "$WORK/config.yaml" <<YAML
server:
  listen: "127.0.0.1:$PORT"
  header_timeout: 3s
  body_timeout: ${BODY_TIMEOUT}s
  idle_timeout: 10s
storage: { sqlite: data/switchboard.sqlite, durability: normal }
admin: { token: $ADMIN_TOKEN }
employees:
  - id: alexey
    name: Alexey
    persona: Friendly concierge.
    working_hours:
      timezone: UTC
      week: { mon: ["00:00-23:59"], tue: ["00:00-23:59"], wed: ["00:00-23:59"], thu: ["00:00-23:59"], fri: ["00:00-23:59"], sat: ["00:00-23:59"], sun: ["00:00-23:59"] }
YAML
cat > "$WORK/channels/telegram.yaml" <<YAML
type: telegram
id: tg
employee: alexey
token: "123456:fuzz-bot-token"
mode: webhook
webhook_secret: $TG_SECRET
api_base: http://127.0.0.1:$TG_PORT
YAML
cat > "$WORK/channels/widget.yaml" <<YAML
type: widget
id: web
employee: alexey
allowed_origins: [http://localhost:8000]
token_secret: $WIDGET_SECRET
YAML

# The fake Telegram Bot API answers the gateway's sends (fuzz.py serves it on TG_PORT).
"$BIN" serve --config "$WORK/config.yaml" --log-level error > "$WORK/gateway.log" 2>&1 &
GATEWAY=$!
trap 'kill "$GATEWAY" 2>/dev/null; wait "$GATEWAY" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.1
done

echo "== fuzzing 127.0.0.1:$PORT (gateway pid $GATEWAY)" >&2
set +e
python3 bench/fuzz.py --port "$PORT" --pid "$GATEWAY" --db "$WORK/data/switchboard.sqlite" --cases "$CASES" --seed "$SEED" \
  --concurrency "$CONCURRENCY" --admin-token "$ADMIN_TOKEN" --tg-secret "$TG_SECRET" --widget-secret "$WIDGET_SECRET" \
  --body-timeout "$BODY_TIMEOUT" --fake-telegram-port "$TG_PORT"
STATUS=$?
set -e
echo "== gateway log lines at error level or above: $(grep -c . "$WORK/gateway.log" || true)" >&2
grep -v '^$' "$WORK/gateway.log" | sed -E 's/^[0-9T:.+-]+ //' | cut -c1-300 | sort | uniq -c | sort -rn | head -15 >&2 || true
exit $STATUS
