#!/usr/bin/env bash
# WhatsApp webhook intake in requests per second: signed batch POSTs of 1 and of 50 messages
# to a release gateway on 127.0.0.1 (fake Graph API for the replies, offline composer, SQLite),
# every message stored before the 200. Loopback only.
#   bench/whatsapp-webhook.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product switchboard-bench --scratch-path .build-release >&2
exec .build-release/release/switchboard-bench whatsapp
