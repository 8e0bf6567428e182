#!/usr/bin/env bash
# Build a real Jaeger (v2, the OpenTelemetry-Collector-based all-in-one: OTLP receiver, in-memory
# storage, query API) into .cache/bin for the trace tests.
#
#   scripts/jaeger.sh install      build .cache/bin/jaeger if it is absent
#
# `go install …/cmd/jaeger@version` cannot build it (its go.mod has replace directives, which
# `go install pkg@version` refuses), so it is built inside a module of our own, tools/jaeger,
# whose go.mod/go.sum pin Jaeger v1.75.0 (= v2.12) and every dependency. Minutes on a cold Go
# cache, seconds with a warm one.
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
  (cd "$ROOT/tools/jaeger" && go build -trimpath -o "$JAEGER.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
  mv "$JAEGER.tmp" "$JAEGER"
}

case "${1:-}" in
  install) install ;;
  *) echo "usage: scripts/jaeger.sh install" >&2; exit 2 ;;
esac
