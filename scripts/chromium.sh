#!/usr/bin/env bash
# Make sure a headless Chromium is installed (Debian's `chromium`); the dashboard test drives it.
# Called from .ci/run; idempotent. Prints the browser's path.
set -euo pipefail
for b in "${BOT4_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$b" ] && [ -x "$b" ]; then echo "$b"; exit 0; fi
done
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "chromium.sh: installing Debian's chromium" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >&2
echo /usr/bin/chromium
