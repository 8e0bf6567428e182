#!/usr/bin/env bash
# Build a real Jaeger (v2, the OpenTelemetry-Collector-based all-in-one: OTLP receiver, in-memory
# storage, query API) into .cache/bin for the trace tests.
#
#   scripts/jaeger.sh install      build .cache/bin/jaeger if it is absent
#
# Jaeger is built as a tool of a module of our own, tools/jaeger (`go get -tool
# github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0`, the v2 binary), whose go.mod/go.sum pin it
# and every dependency, so a fresh machine builds exactly what the tests ran. Long on a cold Go
# build cache (a large program), seconds with a warm one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN_DIR="${BOT4_CACHE_BIN:-$ROOT/.cache/bin}"
JAEGER="$BIN_DIR/jaeger"

install() {
  if [ -x "$JAEGER" ]; then return 0; fi
  command -v go >/dev/null || { echo "jaeger.sh: go is required to build jaeger" >&2; exit 1; }
  mkdir -p "$BIN_DIR"
  echo "jaeger.sh: building jaeger into $BIN_DIR (minutes on a cold Go cache)" >&2
  (cd "$ROOT/tools/jaeger" && go build -o "$JAEGER.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
  mv "$JAEGER.tmp" "$JAEGER"
}

case "${1:-}" in
  install) install ;;
  *) echo "usage: scripts/jaeger.sh install" >&2; exit 2 ;;
esac
