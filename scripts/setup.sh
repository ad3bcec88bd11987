#!/usr/bin/env bash
# Install what the course needs: Debian's bubblewrap (the grading sandbox), chromium (the browser
# test of the student's journey) and postgresql (the tests of a PostgreSQL gradebook start a server
# of their own on loopback), and the Python package with its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: not installed: ${missing[*]} (needs root and apt-get). Without bubblewrap grading runs with" \
         "resource limits only (sandbox: none); without chromium the browser test skips." >&2
  fi
fi
# PostgreSQL on its own: if its package cannot install (or start its default cluster) here, only the
# PostgreSQL gradebook tests skip, saying so; the rest of the setup goes on.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing postgresql (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 \
    || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || echo "note: postgresql did not install; the PostgreSQL gradebook tests will skip" >&2
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
