#!/bin/sh
# cwlogs get benchmark: see bench/README.md. Arguments go to bench/run.py
# (e.g. --quick, --events 200000, --reps 3, --no-build).
set -e
cd "$(dirname "$0")/.."
exec python3 bench/run.py "$@"
