#!/usr/bin/env bash
# Times the Follow-ups search and employee filter over 100,000 chats with a scheduled reminder,
# through the same code the page, the API and `switchboard followups` use
# (FollowUpListing.list → SQLiteStore.pendingFollowUps), in a release build.
#
#   bench/followups-search.sh [--chats 100000] [--idle 50000] [--runs 30] [--limit 100] [--db PATH]
#   (BENCH_REUSE_DB=1 keeps an existing database instead of rebuilding it)
exec "$(dirname "$0")/store-bench.sh" followups-search bench/FollowUpsSearch "$@"
