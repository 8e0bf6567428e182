#!/usr/bin/env bash
# Make sure promtool (and prometheus) are installed: Debian's `prometheus` package ships both.
# Called from .ci/run; idempotent (does nothing when promtool is already on PATH).
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "prometheus.sh: installing Debian's prometheus (promtool)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null
