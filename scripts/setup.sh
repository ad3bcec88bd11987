#!/usr/bin/env bash
# Install what the course needs: Debian's bubblewrap (the grading sandbox), chromium (the browser
# test of the student's journey) and postgresql (the tests of a PostgreSQL gradebook start a server
# of their own on loopback), and the Python package with its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: not installed: ${missing[*]} (needs root and apt-get). Without bubblewrap grading runs with" \
         "resource limits only (sandbox: none); without chromium the browser test skips, without" \
         "postgresql the PostgreSQL gradebook tests skip." >&2
  fi
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
