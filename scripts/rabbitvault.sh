#!/usr/bin/env bash
# The operator CLI from any directory: resolves the install, keeps the caller's cwd.
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
exec node --import "$ROOT/node_modules/tsx/dist/loader.mjs" "$ROOT/scripts/rabbitvault.ts" "$@"
