#!/usr/bin/env bash
# The operator CLI from any directory: resolves the install, keeps the caller's cwd.
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
if [ "${1:-}" = worker ]; then
  # The worker runs compiled (dist/): built or refreshed first, then exec'd
  # through its launcher (memory settings) so signals reach it directly.
  shift
  # A source checkout rebuilds when stale; an image ships dist/ prebuilt and
  # no scripts/ (Dockerfile), so there the build is already done.
  if [ -f "$ROOT/scripts/setup/build-worker.mjs" ]; then
    node "$ROOT/scripts/setup/build-worker.mjs" || exit 1
  fi
  exec "$ROOT/workers/worker.sh" "$@"
fi
exec node --import "$ROOT/node_modules/tsx/dist/loader.mjs" "$ROOT/cli/rabbitvault.ts" "$@"
