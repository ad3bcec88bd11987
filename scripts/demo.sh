#!/usr/bin/env bash
# The main job on embedded defaults: build the course and grade a sample class.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
tito demo "$@"
