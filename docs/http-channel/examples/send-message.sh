#!/bin/sh
# Sends one signed client message to an http channel: sh send-message.sh http://127.0.0.1:8080 crm-inbox
# Needs HTTP_CHANNEL_SECRET (the channel's `secret`), openssl and curl.
set -eu
GATEWAY=${1:-http://127.0.0.1:8080}
CHANNEL=${2:-crm-inbox}
body=$(mktemp)
trap 'rm -f "$body"' EXIT
printf '%s' '{"message_id": "m-1001", "chat_id": "c-42", "client": {"id": "cl-7", "name": "Ana K"}, "text": "Is the spa open on Sunday?"}' > "$body"
ts=$(date +%s)
sig=$( (printf '%s.' "$ts"; cat "$body") | openssl dgst -sha256 -hmac "$HTTP_CHANNEL_SECRET" | awk '{print $NF}')
curl -sS -X POST "$GATEWAY/webhooks/$CHANNEL" \
  -H 'Content-Type: application/json' \
  -H "X-Switchboard-Timestamp: $ts" \
  -H "X-Switchboard-Signature: sha256=$sig" \
  --data-binary @"$body"
echo
