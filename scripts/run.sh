#!/usr/bin/env bash
# Runs Mergecast locally (web + workers) against local Postgres and Redis, bringing them up first.
# Every setting can be overridden from the environment; see README.md and .env.example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/}"
if [ -z "${GITHUB_WEBHOOK_SECRET:-}" ]; then
  export GITHUB_WEBHOOK_SECRET="development-secret"
  echo "run: GITHUB_WEBHOOK_SECRET not set; using the development secret 'development-secret'" >&2
fi
exec cargo run --release --locked -- serve "$@"
