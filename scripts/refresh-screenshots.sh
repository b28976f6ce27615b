#!/usr/bin/env bash
# Refreshes docs/screenshots/ from the browser tests in headless Chromium: the console (Chats,
# a chat's composer, Employees, Usage), the Follow-ups page and the chat widget. A plain
# `swift test` writes its screenshots to the git-ignored .build-screenshots/ instead, so that
# running the tests never changes the clone.
#
# Needs chromium and chromedriver (Debian: apt-get install -y chromium chromium-driver).
# Review the result with `git diff --stat docs/screenshots` and commit it on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."

export CI=true                            # the browser tests run, not skip
export SWITCHBOARD_REFRESH_SCREENSHOTS=1  # and write into docs/screenshots/
# An argument narrows it to some suites, e.g. 'ConsoleBrowserTests|FollowUpsBrowserTests'.
swift test --filter "${1:-BrowserTests}"
git status --short docs/screenshots
