#!/bin/sh
# Runs the busted specs and ends with a plain "N passed, N failed[, N skipped]" line
# (CI reads that line; busted's own summary is not recognised there).
# Usage: tools/run-specs.sh [busted args...]   (CWLOGS_CPATH selects the core build)
set -u
LUA=${LUA:-lua5.4}
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT INT TERM
# CWLOGS_PRELOAD (make asan) goes to busted and what it runs, not to this script's tools.
if [ -n "${CWLOGS_PRELOAD:-}" ]; then
  env LD_PRELOAD="$CWLOGS_PRELOAD" busted --lua="$LUA" -o TAP "$@" > "$tap" 2>&1
else
  busted --lua="$LUA" -o TAP "$@" > "$tap" 2>&1
fi
status=$?
cat "$tap"
passed=$(grep -c '^ok ' "$tap" | tr -d ' ')
skipped=$(grep -c '^ok .*# SKIP' "$tap" | tr -d ' ')
failed=$(grep -c '^not ok ' "$tap" | tr -d ' ')
passed=$((passed - skipped))
# An error outside any test (a broken spec file) shows up as a failing status with no
# "not ok" line: count it as a failure so it cannot pass silently.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
