#!/usr/bin/env bash
# Type-aware RxJS lint (eslint-plugin-rxjs-x). typescript-eslint supports TypeScript < 6.1 only,
# so tools/rxjs-lint pins its own TypeScript 6.0 for linting; the product still builds with 7.
# Installs that folder's locked dependencies on first use (a fresh clone, CI).
# Usage: scripts/lint-rxjs.sh [eslint args…]   (BOT4_LINT_ROOT lints another tree with these rules)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tools="$here/tools/rxjs-lint"
if [ ! -x "$tools/node_modules/.bin/eslint" ] || [ "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error >&2
fi
root="${BOT4_LINT_ROOT:-$here}"
cd "$root"
suppressions=()
if [ -z "${BOT4_LINT_ROOT:-}" ]; then
  suppressions=(--suppressions-location tools/rxjs-lint/suppressions.json)
fi
exec "$tools/node_modules/.bin/eslint" -c "$tools/eslint.config.mjs" "${suppressions[@]}" --cache --cache-location "$here/.cache/eslint/" "$@" .
