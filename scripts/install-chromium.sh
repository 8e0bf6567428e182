#!/usr/bin/env bash
# Makes sure a headless Chromium is installed (Debian's `chromium` package): the report.html test
# opens the page in it. Called from .ci/run; idempotent (does nothing when one is there). Prints
# the browser's path. BOT4_CHROMIUM overrides the path.
set -euo pipefail
for b in "${BOT4_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$b" ] && [ -x "$b" ]; then
    echo "$b"
    exit 0
  fi
done
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "install-chromium.sh: installing Debian's chromium" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >&2
echo /usr/bin/chromium
