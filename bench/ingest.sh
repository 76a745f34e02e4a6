#!/usr/bin/env bash
# Ingest benchmark: signed ~24 KB pull_request deliveries -> POST /webhooks/github -> Redis.
#
# Recreates the Postgres database, builds the release binary, starts `mergecast serve --role web`
# on its own Redis key prefix, drives it with wrk (bench/ingest.lua), samples the server's RSS
# and the CPU of every process involved, then stops the server, deletes its Redis keys (and only
# those) and prints the figures. Two measured runs:
#   unique  every request a new X-GitHub-Delivery  -> 202 (durable enqueue)
#   dup     ids cycle through a small, already-accepted set -> 200 (dedupe path)
#
# Usage: bench/ingest.sh            (from anywhere; needs wrk, redis-cli, psql, curl, python3,
#                                    pidstat/mpstat from sysstat)
# Settings (environment):
#   DURATION=30s WARMUP=5s THREADS=2 CONNS=32 PORT=18089 (metrics on METRICS_PORT, default PORT+1) RUNS="unique dup" DUP_IDS=64
#   MERGECAST_SRC=<dir>   tree to `cargo build --release` in (default: this repository)
#   MERGECAST_BIN=<path>  use this binary, skip the build
#   BENCH_DB=mergecast_bench   PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
#   REDIS_URL=redis://127.0.0.1:6379/   QUEUE_PREFIX (default bench:<timestamp>-<pid>)
#   OUT_DIR (default bench/results/ingest-<timestamp>): raw logs of the run
#   BENCH_REV             label for the source revision (default: git rev-parse in MERGECAST_SRC)
#   STATUS_HOOK=1         also count responses per status code inside wrk (costs wrk CPU)
#   PROBOT=1              then run Probot (bench/probot, npm) on PROBOT_PORT (default PORT+2)
#                         with the same body and wrk settings (unique ids); PROBOT=0 skips it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=${MERGECAST_SRC:-$ROOT}
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-5s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
PORT=${PORT:-18089}
METRICS_PORT=${METRICS_PORT:-$((PORT + 1))}
RUNS=${RUNS:-"unique dup"}
DUP_IDS=${DUP_IDS:-64}
DB=${BENCH_DB:-mergecast_bench}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/}
SECRET=bench-secret
TS=$(date +%Y%m%d-%H%M%S)
PREFIX=${QUEUE_PREFIX:-bench:$TS-$$}
OUT=${OUT_DIR:-$ROOT/bench/results/ingest-$TS}
URL="http://127.0.0.1:$PORT"
METRICS_URL="http://127.0.0.1:$METRICS_PORT"
DATABASE_URL="${PG_ADMIN_URL%/*}/$DB"
case "$DURATION" in
  *s) SECS=${DURATION%s} ;; *m) SECS=$(( ${DURATION%m} * 60 )) ;; *) SECS=$DURATION; DURATION="${DURATION}s" ;;
esac

case "$PREFIX" in *[\*\?\[\]\ ]*) echo "QUEUE_PREFIX must not contain glob characters" >&2; exit 2 ;; esac
for tool in wrk redis-cli psql curl python3 pidstat mpstat; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (apt-get install -y wrk redis-tools postgresql-client curl sysstat)" >&2; exit 2; }
done
mkdir -p "$OUT"
rcli() { redis-cli -u "$REDIS_URL" "$@"; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" | tee -a "$OUT/summary.txt" >&2; }

SERVER_PID=""
SAMPLER_PIDS=()
TIMED_PIDS=()
delete_keys() {
  # Only our prefix; UNLINK frees the (large) job hash off Redis's main thread.
  rcli --scan --pattern "$PREFIX:*" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" UNLINK >/dev/null
  local left
  left=$(rcli --scan --pattern "$PREFIX:*" | wc -l)
  [[ "$left" -eq 0 ]] || echo "WARNING: $left redis keys still under $PREFIX:" >&2
  echo "$left"
}
stop_samplers() {
  for p in "${SAMPLER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SAMPLER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  SAMPLER_PIDS=()
}
cleanup() {
  stop_samplers
  for p in "${TIMED_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  fi
  local left; left=$(delete_keys)
  echo "redis keys left under $PREFIX: $left" >&2
}
trap cleanup EXIT

busy_builds() { ps -eo pid=,comm= | awk '$2 ~ /^(cargo|rustc|cc|ld|rust-lld|clippy-driver)$/ {printf "%s(%s) ", $2, $1}'; }

log "ingest benchmark $TS  out=$OUT  prefix=$PREFIX"
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -m | awk '/Mem:/{print $2" MiB RAM"}')"
log "source: ${BENCH_REV:-$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')} ($(git -C "$SRC" status --porcelain 2>/dev/null | wc -l) uncommitted paths in $SRC)"

# --- body and signature ------------------------------------------------------------------
read -r BODY BODY_BYTES SIG < <(python3 "$ROOT/bench/make_body.py" --secret "$SECRET" | paste -sd' ')
log "body: $BODY ($BODY_BYTES bytes) $SIG"

# --- database ------------------------------------------------------------------------------
psql "$PG_ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
log "database $DB recreated"

# --- build -----------------------------------------------------------------------------------
if [[ -z "${MERGECAST_BIN:-}" ]]; then
  log "building: (cd $SRC && cargo build --release)"
  (cd "$SRC" && cargo build --release 2>&1 | tail -n 3)
  MERGECAST_BIN="${CARGO_TARGET_DIR:-$SRC/target}/release/mergecast"
fi
[[ -x "$MERGECAST_BIN" ]] || { echo "no binary at $MERGECAST_BIN" >&2; exit 2; }

# --- server ----------------------------------------------------------------------------------
if curl -s -o /dev/null "$URL/healthz"; then echo "port $PORT is taken" >&2; exit 2; fi
env -i PATH="$PATH" HOME="$HOME" \
  DATABASE_URL="$DATABASE_URL" REDIS_URL="$REDIS_URL" GITHUB_WEBHOOK_SECRET="$SECRET" \
  QUEUE_PREFIX="$PREFIX" BIND_ADDR="127.0.0.1:$PORT" METRICS_ADDR="127.0.0.1:$METRICS_PORT" RUST_LOG=warn \
  "$MERGECAST_BIN" serve --role web >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "$URL/healthz" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$URL/readyz" | tr '\n' ' ' | sed 's/^/readyz: /' >&2; echo >&2
REDIS_PID=$(rcli INFO server | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')
log "redis: $(rcli INFO server | tr -d '\r' | awk -F: '$1 == "redis_version" {print "version "$2}'), appendonly $(rcli CONFIG GET appendonly | tail -n1), save '$(rcli CONFIG GET save | tail -n1)'"
log "server pid $SERVER_PID ($MERGECAST_BIN), redis-server pid $REDIS_PID"

metric() { # metric OUTCOME -> mergecast_webhook_deliveries_total{event="pull_request",outcome=OUTCOME}
  curl -sf "$METRICS_URL/metrics" | awk -v o="$1" '$1 == "mergecast_webhook_deliveries_total{event=\"pull_request\",outcome=\""o"\"}" {print $2; f=1} END {if (!f) print 0}'
}
redis_stat() { # redis_stat SECTION FIELD
  rcli INFO "$1" | tr -d '\r' | awk -F: -v k="$2" '$1 == k {print $2}'
}
evalsha_calls() {
  rcli INFO commandstats | tr -d '\r' | awk -F'[:=,]' '$1 == "cmdstat_evalsha" {print $3" "$5" "$7}'
}

pidstat_avg() { # per command: mean %CPU and %wait (waiting for a CPU) over the run's seconds
  awk -v secs="$SECS" '!/^#/ && NF >= 10 && $3 ~ /^[0-9]+$/ {cpu[$10] += $8; wait[$10] += $7}
    END {for (c in cpu) printf "%s %.0f%% (wait %.0f%%)  ", c, cpu[c]/secs, wait[c]/secs}' "$1"
}

run_wrk() { # run_wrk NAME MODE DURATION
  local name=$1 mode=$2 dur=$3
  BENCH_BODY="$BODY" BENCH_SIG="$SIG" BENCH_RUN="r$TS-$name" BENCH_MODE="$mode" \
    BENCH_DUP_IDS="$DUP_IDS" BENCH_STATUS="${STATUS_HOOK:-0}" \
    wrk -t"$THREADS" -c"$CONNS" -d"$dur" --latency -s "$ROOT/bench/ingest.lua" "$URL/webhooks/github"
}

log "warm-up: wrk -t$THREADS -c$CONNS -d$WARMUP (not measured)"
run_wrk warmup unique "$WARMUP" >"$OUT/wrk-warmup.txt"
grep '^RESULT' "$OUT/wrk-warmup.txt" >&2 || true
log "redis keys dropped after warm-up (left: $(delete_keys))"

FAILED=0
for RUN in $RUNS; do
  case "$RUN" in
    unique) MODE=unique; EXPECT=accepted ;;
    dup) MODE=dup; EXPECT=duplicate
      # Accept the small id set once, so that every measured request is a redelivery.
      for i in $(seq 0 $((DUP_IDS - 1))); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/webhooks/github" \
          -H 'Content-Type: application/json' -H 'X-GitHub-Event: pull_request' \
          -H "X-GitHub-Delivery: r$TS-dup-dup-$i" -H "X-Hub-Signature-256: $SIG" --data-binary "@$BODY")
        [[ "$code" == 202 ]] || { echo "seeding dup id $i answered $code" >&2; exit 1; }
      done ;;
    *) echo "unknown run $RUN" >&2; exit 2 ;;
  esac
  echo 5 >"/proc/$SERVER_PID/clear_refs"   # reset VmHWM: the peak is this run's
  builds_before=$(busy_builds)
  before_accepted=$(metric accepted); before_dup=$(metric duplicate); before_unavail=$(metric unavailable)
  read -r ev_calls0 ev_usec0 _ < <(evalsha_calls || echo "0 0 0")
  rcpu0=$(awk '{print $14+$15}' "/proc/$REDIS_PID/stat")
  scpu0=$(awk '{print $14+$15}' "/proc/$SERVER_PID/stat")
  uptime >"$OUT/uptime-$RUN.txt"

  ( while kill -0 "$SERVER_PID" 2>/dev/null; do
      printf '%s %s %s\n' "$(date +%s.%N)" \
        "$(awk '/^VmRSS/{print $2}' "/proc/$SERVER_PID/status")" \
        "$(awk '/^VmHWM/{print $2}' "/proc/$SERVER_PID/status")"
      sleep 0.25
    done ) >"$OUT/rss-$RUN.txt" &
  SAMPLER_PIDS+=($!)
  # pidstat/mpstat sample for the run's length and print their own averages.
  pidstat -u -h -C 'mergecast|redis-server|wrk|postgres|cargo|rustc|clippy-driver|rust-lld' 1 "$SECS" >"$OUT/pidstat-$RUN.txt" 2>&1 &
  TIMED_PIDS+=($!)
  mpstat 1 "$SECS" >"$OUT/mpstat-$RUN.txt" 2>&1 &
  TIMED_PIDS+=($!)
  ( sleep 10; top -b -n 1 -w 200 | head -n 20 ) >"$OUT/top-$RUN.txt" 2>&1 &
  SAMPLER_PIDS+=($!)

  log "run $RUN: wrk -t$THREADS -c$CONNS -d$DURATION --latency -s bench/ingest.lua (mode $MODE)"
  run_wrk "$RUN" "$MODE" "$DURATION" >"$OUT/wrk-$RUN.txt"
  hwm=$(awk '/^VmHWM/{print $2}' "/proc/$SERVER_PID/status")
  rss_now=$(awk '/^VmRSS/{print $2}' "/proc/$SERVER_PID/status")
  stop_samplers
  for p in "${TIMED_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  TIMED_PIDS=()
  rcpu1=$(awk '{print $14+$15}' "/proc/$REDIS_PID/stat")
  scpu1=$(awk '{print $14+$15}' "/proc/$SERVER_PID/stat")
  read -r ev_calls1 ev_usec1 _ < <(evalsha_calls || echo "0 0 0")
  builds_after=$(busy_builds)
  sleep 0.5   # let requests cut off by wrk's stop finish
  d_acc=$(( $(metric accepted) - before_accepted ))
  d_dup=$(( $(metric duplicate) - before_dup ))
  d_unav=$(( $(metric unavailable) - before_unavail ))
  # apalis-redis 1.0 files every new job in the scheduled zset (run_at = now); workers promote it.
  queued=$(( $(rcli LLEN "$PREFIX:deliveries:active") + $(rcli ZCARD "$PREFIX:deliveries:scheduled") ))
  redis_mem=$(redis_stat memory used_memory_human)

  cat "$OUT/wrk-$RUN.txt" >&2
  res=$(grep '^RESULT' "$OUT/wrk-$RUN.txt")
  # shellcheck disable=SC2086
  declare $(echo "${res#RESULT }")
  secs=${duration_s}
  tck=$(getconf CLK_TCK)
  server_cpu=$(awk -v a="$scpu0" -v b="$scpu1" -v t="$tck" -v s="$secs" 'BEGIN{printf "%.0f", (b-a)/t/s*100}')
  redis_cpu=$(awk -v a="$rcpu0" -v b="$rcpu1" -v t="$tck" -v s="$secs" 'BEGIN{printf "%.0f", (b-a)/t/s*100}')
  ev_n=$((ev_calls1 - ev_calls0))
  ev_per=$(awk -v c="$ev_n" -v u="$((ev_usec1 - ev_usec0))" 'BEGIN{if (c>0) printf "%.1f", u/c; else print "n/a"}')
  mean_cpu=$(awk '/Average/ && $NF ~ /^[0-9.]+$/ {printf "usr %s%% sys %s%% idle %s%%", $3, $5, $NF}' "$OUT/mpstat-$RUN.txt")
  errors=$((err_connect + err_read + err_write + err_status + err_timeout))
  valid=yes
  [[ "$errors" -eq 0 && "$d_unav" -eq 0 ]] || valid="NO (errors)"
  if [[ "$RUN" == unique && "$d_dup" -ne 0 ]]; then valid="NO (unexpected duplicates)"; fi
  if [[ "$RUN" == dup && "$d_acc" -ne 0 ]]; then valid="NO (dup run enqueued)"; fi
  builds_during=$(awk '!/^#/ && $10 ~ /^(cargo|rustc|clippy-driver|rust-lld)$/ {s += $8} END {if (s > 0) printf "%.0f core-seconds of %s", s/100, "compiler CPU"}' "$OUT/pidstat-$RUN.txt")
  [[ -z "$builds_before$builds_after$builds_during" ]] || valid="$valid; DISTURBED by a concurrent build: $(echo "$builds_before $builds_after $builds_during" | tr '\n' ' ' | cut -c1-200)"
  {
    echo "== $RUN ($MODE, expect $EXPECT) =="
    echo "requests          $requests in ${duration_s}s"
    echo "throughput        ${rps} req/s"
    echo "latency           p50 ${p50_ms} ms  p90 ${p90_ms} ms  p99 ${p99_ms} ms  p99.9 ${p999_ms} ms  max ${max_ms} ms"
    echo "errors            non-2xx/3xx $err_status, connect $err_connect, read $err_read, write $err_write, timeout $err_timeout"
    echo "server counters   accepted(202) +$d_acc  duplicate(200) +$d_dup  unavailable(503) +$d_unav"
    echo "redis queue       $queued jobs queued under $PREFIX:deliveries; redis used_memory $redis_mem"
    echo "server RSS        peak (VmHWM) $((hwm / 1024)) MiB, at end $((rss_now / 1024)) MiB"
    echo "cpu (1 core=100%) server ${server_cpu}%  redis ${redis_cpu}%  machine: $mean_cpu"
    echo "redis EVALSHA     $ev_n calls, ${ev_per} us/call inside Redis (wall time: includes preemption)"
    echo "pidstat averages  $(pidstat_avg "$OUT/pidstat-$RUN.txt")"
    echo "load              $(cat "$OUT/uptime-$RUN.txt")"
    echo "valid             $valid"
  } | tee -a "$OUT/summary.txt" >&2
  [[ "$valid" == yes ]] || FAILED=1
  log "redis keys dropped (left: $(delete_keys))"
done

kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
log "server stopped; logs in $OUT"

# --- Probot, same body, same wrk, same machine, right after -----------------------------------
# Probot 14 (bench/probot: `npm ci` there once) with a no-op pull_request handler: its webhooks
# middleware verifies the signature and answers 200. Nothing is queued, so this is the ceiling of
# a Node.js GitHub App's ingest, not a durable enqueue.
if [[ "${PROBOT:-1}" == 1 ]]; then
  PROBOT_DIR="$ROOT/bench/probot"
  PROBOT_PORT=${PROBOT_PORT:-$((PORT + 2))}
  [[ -x "$PROBOT_DIR/node_modules/.bin/probot" ]] || (cd "$PROBOT_DIR" && npm ci --no-audit --no-fund >/dev/null)
  env -i PATH="$PATH" HOME="$HOME" NODE_ENV=production APP_ID=1 \
    PRIVATE_KEY_PATH="$ROOT/tests/support/keys/test-app.pem" WEBHOOK_SECRET="$SECRET" \
    HOST=127.0.0.1 PORT="$PROBOT_PORT" WEBHOOK_PATH=/webhooks/github LOG_LEVEL=warn \
    "$PROBOT_DIR/node_modules/.bin/probot" run "$PROBOT_DIR/app.js" >"$OUT/probot.log" 2>&1 &
  SERVER_PID=$!
  URL="http://127.0.0.1:$PROBOT_PORT"
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/webhooks/github" \
      -H 'Content-Type: application/json' -H 'X-GitHub-Event: pull_request' \
      -H "X-GitHub-Delivery: r$TS-probe" -H "X-Hub-Signature-256: $SIG" --data-binary "@$BODY" || true)
    [[ "$code" == 200 ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/probot.log" >&2; exit 1; }
    sleep 0.1
  done
  log "probot $(cat "$PROBOT_DIR/node_modules/probot/package.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') pid $SERVER_PID on $URL (node $(node --version))"
  run_wrk probot-warmup unique "$WARMUP" >"$OUT/wrk-probot-warmup.txt"
  pcpu0=$(awk '{print $14+$15}' "/proc/$SERVER_PID/stat")
  log "run probot: wrk -t$THREADS -c$CONNS -d$DURATION --latency -s bench/ingest.lua (mode unique)"
  run_wrk probot unique "$DURATION" >"$OUT/wrk-probot.txt"
  pcpu1=$(awk '{print $14+$15}' "/proc/$SERVER_PID/stat")
  res=$(grep '^RESULT' "$OUT/wrk-probot.txt")
  # shellcheck disable=SC2086
  declare $(echo "${res#RESULT }")
  errors=$((err_connect + err_read + err_write + err_status + err_timeout))
  pcpu=$(awk -v a="$pcpu0" -v b="$pcpu1" -v t="$(getconf CLK_TCK)" -v s="$duration_s" 'BEGIN{printf "%.0f", (b-a)/t/s*100}')
  {
    echo "== probot (no-op handler, unique ids) =="
    echo "throughput        ${rps} req/s"
    echo "latency           p50 ${p50_ms} ms  p90 ${p90_ms} ms  p99 ${p99_ms} ms  p99.9 ${p999_ms} ms  max ${max_ms} ms"
    echo "errors            $errors (non-2xx/3xx $err_status)"
    echo "cpu (1 core=100%) probot ${pcpu}%"
  } | tee -a "$OUT/summary.txt" >&2
  [[ "$errors" -eq 0 ]] || FAILED=1
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
fi
exit "$FAILED"
