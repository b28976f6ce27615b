#!/usr/bin/env bash
# Times the Chats inbox — newest activity first, search, filters, keyset pages — over 100,000
# chats, through the same code the page and `GET /api/chats` use
# (ChatInboxListing.list → SQLiteStore.chatInbox), in a release build.
#
#   bench/chats-inbox.sh [--chats 100000] [--runs 30] [--limit 50] [--db PATH]
#   (BENCH_REUSE_DB=1 keeps an existing database instead of rebuilding it)
exec "$(dirname "$0")/store-bench.sh" chats-inbox bench/ChatsInbox "$@"
