#!/bin/sh
# The one way the production worker process starts: `rabbitvault worker`,
# `npm run worker`, the Docker image, and the tests and benches that run it as a
# process all exec this. It runs the compiled worker (dist/, built by
# scripts/setup/build-worker.mjs; callers build it first) with two memory
# settings, measured at 1,000,000 messages by `npm run bench:messages`:
#   MALLOC_ARENA_MAX=2        glibc otherwise gives each thread that allocates
#                             (Temporal core's runtime, libuv's zlib pool) its
#                             own arena, which stays resident once grown.
#   --max-semi-space-size=4   V8's young generation otherwise grows to 2 x 16 MiB
#                             per isolate while messages stream through.
# Override: MALLOC_ARENA_MAX=N, RABBITVAULT_WORKER_NODE_FLAGS="..." (empty: none);
# RABBITVAULT_NODE picks the node binary (default: node on PATH).
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
if [ ! -f "$ROOT/dist/workers/main.js" ]; then
  echo "rabbitvault: $ROOT/dist/workers/main.js is missing: run \`npm run build\` (or start the worker with \`rabbitvault worker\`)" >&2
  exit 1
fi
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# shellcheck disable=SC2086 # the flags are a word list on purpose
exec "${RABBITVAULT_NODE:-node}" ${RABBITVAULT_WORKER_NODE_FLAGS---max-semi-space-size=4} "$ROOT/dist/workers/main.js" "$@"
