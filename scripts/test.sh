#!/usr/bin/env bash
# The test command: the default (not slow) test run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pytest tests -q "$@"
