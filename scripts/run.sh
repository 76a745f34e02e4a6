#!/usr/bin/env bash
# Runs Mergecast locally (web + workers) against local Postgres and Redis, bringing them up first.
# Every setting can be overridden from the environment; see README.md and .env.example.
#
# On first start nothing else is needed: an encryption key is generated once into
# .mergecast/encryption-key (kept out of git), and the log prints a one-time setup code for
# http://localhost:8080/ , where the browser walks through the rest (operator password, the
# GitHub App from its manifest, Slack, settings per org).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/}"
if [ -z "${MERGECAST_ENCRYPTION_KEY:-}" ]; then
  keyfile=.mergecast/encryption-key
  if [ ! -s "$keyfile" ]; then
    mkdir -p .mergecast
    (umask 077 && head -c 32 /dev/urandom | base64 > "$keyfile")
    echo "run: generated an encryption key in $keyfile (back it up: it opens the stored secrets)" >&2
  fi
  MERGECAST_ENCRYPTION_KEY="$(cat "$keyfile")"
  export MERGECAST_ENCRYPTION_KEY
fi
echo "run: open http://localhost:${BIND_PORT:-8080}/ (a new deployment: the setup code is in the log below)" >&2
exec cargo run --release --locked -- serve "$@"
