#!/usr/bin/env bash
# Redis memory of the webhook dedupe window: N idempotency keys shaped exactly as apalis-redis's
# batch_push.lua writes them for deliveries (`<prefix>:deliveries:...:<X-GitHub-Delivery uuid>` ->
# the job's 26-character ULID, with the window as TTL), INFO memory before and after, then the
# steady state at a sustained rate: rate x window x bytes per key (keys expire after the window,
# so the footprint is bounded by the window, not by how long the rate lasts).
# Usage: bench/dedupe_keys.sh   settings: N=200000 RATE=250 WINDOW_SECS=3600 REDIS_URL=redis://127.0.0.1:6379/
set -euo pipefail
N=${N:-200000}
RATE=${RATE:-250}
WINDOW=${WINDOW_SECS:-3600}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/}
PREFIX="bench:dedupe:$(date +%s)-$$"
rcli() { redis-cli -u "$REDIS_URL" "$@"; }
mem() { rcli INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }
# The set name apalis-redis derives for a queue named <prefix>:deliveries (Config::idempotency_key_set).
SET="$PREFIX:deliveries:idempotency"
before=$(mem)
python3 - "$N" "$SET" "$WINDOW" <<'PY' | rcli --pipe >/dev/null
import sys, uuid, random, string
n, key_set, ttl = int(sys.argv[1]), sys.argv[2], sys.argv[3]
alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
out = sys.stdout
for _ in range(n):
    key = f"{key_set}:{uuid.uuid4()}"
    ulid = "".join(random.choice(alphabet) for _ in range(26))
    for cmd in (["SET", key, ulid, "NX"], ["EXPIRE", key, ttl]):
        out.write(f"*{len(cmd)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in cmd))
PY
after=$(mem)
per=$(( (after - before) / N ))
rcli --scan --pattern "$PREFIX:*" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" UNLINK >/dev/null
echo "keys              $N (prefix $PREFIX, deleted afterwards)"
echo "used_memory       $before -> $after bytes: $per bytes per dedupe key"
echo "steady state      $RATE/s x ${WINDOW}s window x $per B = $(( RATE * WINDOW * per / 1000000 )) MB (the same after a week: keys expire after the window)"
echo "a 7-day window    $RATE/s x 604800 s x $per B = $(( RATE * 604800 * per / 1000000 )) MB"
