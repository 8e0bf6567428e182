#!/usr/bin/env bash
# Provision and run a real InfluxDB 1.8 (it speaks the v2 write API the sink uses) on loopback.
#
#   scripts/influxdb.sh install          build influxd into .cache/bin if it is absent
#   scripts/influxdb.sh start <dir>      start it on free loopback ports with data in <dir>;
#                                        prints "url=http://127.0.0.1:<port> pid=<pid>" once ready
#
# The binary is built with `go install` (6 min cold, seconds with a warm Go cache) into the
# project's own cache dir, never onto PATH, so a missing install step cannot hide.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN_DIR="${BOT4_CACHE_BIN:-$ROOT/.cache/bin}"
INFLUXD="$BIN_DIR/influxd"
VERSION=1.8.10

install() {
  if [ -x "$INFLUXD" ]; then return 0; fi
  command -v go >/dev/null || { echo "influxdb.sh: go is required to build influxd" >&2; exit 1; }
  mkdir -p "$BIN_DIR"
  echo "influxdb.sh: building influxd $VERSION into $BIN_DIR (minutes on a cold Go cache)" >&2
  GOBIN="$BIN_DIR" GOFLAGS=-mod=mod go install -ldflags "-X main.version=$VERSION" \
    "github.com/influxdata/influxdb/cmd/influxd@v$VERSION"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local dir="$1"
  install
  mkdir -p "$dir"
  local http rpc
  http="$(free_port)"
  rpc="$(free_port)"
  cat >"$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$http"
  log-enabled = false
  flux-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
CONF
  "$INFLUXD" run -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/influxd.pid"
  for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$http/ping" >/dev/null 2>&1; then
      echo "url=http://127.0.0.1:$http pid=$pid"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "influxdb.sh: influxd exited; log:" >&2
      cat "$dir/influxd.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "influxdb.sh: influxd did not answer /ping within 60 s" >&2
  kill "$pid" || true
  exit 1
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: influxdb.sh start <data dir>}" ;;
  *) echo "usage: influxdb.sh install | start <data dir>" >&2; exit 2 ;;
esac
