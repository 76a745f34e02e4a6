-- wrk script for the ingest benchmark: POST /webhooks/github with a fixed, signed body and a
-- fresh X-GitHub-Delivery per request. Driven by bench/ingest.sh; configured by environment:
--
--   BENCH_BODY     path of the body file (bench/pr-24k.json)
--   BENCH_SIG      its X-Hub-Signature-256 value (sha256=<hex>, HMAC of the body bytes)
--   BENCH_RUN      run id; makes delivery ids unique across runs (letters, digits, -)
--   BENCH_MODE     "unique" (default): every request a new delivery id  -> 202 queued
--                  "dup": ids cycle through BENCH_DUP_IDS ids (pre-sent) -> 200 already accepted
--   BENCH_DUP_IDS  size of the id set in dup mode (default 64)
--   BENCH_STATUS   "1": also count responses per status code with a response() hook (costs
--                  wrk some CPU, so it is off for the headline figures; the server's /metrics
--                  counters are the cross-check then)
--
-- The request bytes are built once per thread around a placeholder and only the delivery id
-- is spliced in per request (one string concatenation), to keep wrk's own CPU use low: it
-- shares the 2 cores with the server and Redis.

local body_path = os.getenv("BENCH_BODY") or "bench/pr-24k.json"
local sig = os.getenv("BENCH_SIG")
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local mode = os.getenv("BENCH_MODE") or "unique"
local dup_ids = tonumber(os.getenv("BENCH_DUP_IDS") or "64")
local count_status = os.getenv("BENCH_STATUS") == "1"

-- main state: hand each thread its number
local threads = {}
local next_tid = 1
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

-- thread state
local pre, post
local n = 0
statuses = {}

function init(args)
  assert(sig and sig:match("^sha256=%x+$"), "BENCH_SIG must be sha256=<hex>")
  local f = assert(io.open(body_path, "rb"))
  local body = f:read("*a")
  f:close()
  local placeholder = "@@DELIVERY@@"
  local req = wrk.format("POST", "/webhooks/github", {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["X-GitHub-Event"] = "pull_request",
    ["X-GitHub-Hook-ID"] = "512345678",
    ["X-GitHub-Delivery"] = placeholder,
    ["X-Hub-Signature-256"] = sig,
  }, body)
  local i, j = req:find(placeholder, 1, true)
  pre, post = req:sub(1, i - 1), req:sub(j + 1)
end

function request()
  n = n + 1
  local id
  if mode == "dup" then
    id = run .. "-dup-" .. (n % dup_ids)
  else
    id = run .. "-t" .. tid .. "-" .. n
  end
  return pre .. id .. post
end

-- wrk only parses response headers/bodies into Lua when a global response() exists (checked
-- once in the main state), so define it only when asked.
if count_status then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local s = summary
  local secs = s.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f "
      .. "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    s.requests, secs, s.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000,
    s.errors.connect, s.errors.read, s.errors.write, s.errors.status, s.errors.timeout))
  if count_status then
    local total = {}
    for _, t in ipairs(threads) do
      local st = t:get("statuses")
      for code, c in pairs(st) do
        total[code] = (total[code] or 0) + c
      end
    end
    local parts = {}
    for code, c in pairs(total) do
      table.insert(parts, code .. "=" .. c)
    end
    table.sort(parts)
    io.write("STATUS " .. table.concat(parts, " ") .. "\n")
  end
end
