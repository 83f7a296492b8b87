#!/usr/bin/env bash
# Serving benchmark in one command (docs/benchmarks.md, "Serving"):
# synthesizes a model (default 1M users x 100k items x 64 dims), loads its
# purchase history and catalog into a redis-server started on a free port,
# measures the FAISS floor and the in-process request path
# (recsys_bench_micro), starts recsys_server, drives it with recsys_load at
# fixed open-loop rates and in closed loop, and prints one table: floor,
# maximum throughput, ratio, latency percentiles per rate, server memory
# against the size of its vectors and indexes, index recall.
#
#   bash scripts/bench_serving.sh
#   BENCH_USERS=20000 BENCH_ITEMS=20000 BENCH_DURATION=5s bash scripts/bench_serving.sh
#
# Environment (defaults in brackets):
#   BENCH_USERS [1000000]  BENCH_ITEMS [100000]  BENCH_DIM [64]  model size
#   BENCH_INDEX [auto]            --index of the synthesized model
#   BENCH_REDIS_GENERATION [1]    0: load Redis in the layout before
#                                 generations (docs/redis_keys.md)
#   BENCH_RATES ["500 1000 2000"] open-loop rates, requests/s
#   BENCH_CONCURRENCY ["4 8 16"]  closed-loop runs (outstanding requests)
#   BENCH_DURATION [30s] BENCH_WARMUP [5s]  measured / unmeasured time per run
#   BENCH_MIX [home_known:100]    recsys_load --mix
#   BENCH_SLOT [homepage] BENCH_K [20]  the homepage slot asked for (homepage:
#                                 not in deploy/slots.textproto, so the default
#                                 slot: personalized discovery, popular fill,
#                                 the global rules)
#   BENCH_MICRO_TIME [2]          seconds per micro-benchmark
#   BENCH_SERVER_FLAGS []         extra recsys_server flags
#   BENCH_SCRAPE_RUNS [2]         pairs of closed-loop runs (BENCH_SCRAPE_CONCURRENCY
#                                 [first of BENCH_CONCURRENCY] outstanding) without,
#                                 then with, a GET /metrics every second; prints the
#                                 throughput and p99 ratio (docs/benchmarks.md,
#                                 "Scraping"). 0: none
#   BENCH_HANG [4]                seconds Redis is stopped (SIGSTOP) during a
#                                 last run at 500 requests/s (0: no such run)
#   BENCH_BURST [2000]            last, bursts of this many requests sent at
#                                 once (recsys_load --mode=burst), one per
#                                 kind of BENCH_BURST_MIXES, each reading the
#                                 server's VmRSS / VmHWM / threads before, at
#                                 peak and 2 s after (0: no bursts)
#   BENCH_BURST_MIXES ["events:1 profile:1 home_known:1"]
#   BENCH_PROFILE [0]             1: perf record the server during the last
#                                 open-loop run, and print the top symbols
#   BENCH_IDLE_WAIT [0]           before each measurement, wait up to this
#                                 many seconds for other processes to use
#                                 less than 0.1 cores over a second; the CPU
#                                 they used during each run is reported
#                                 either way
#   BENCH_MAX_REST [0.1] BENCH_RETRIES [0]  repeat a load run (up to
#                                 BENCH_RETRIES times) when other processes
#                                 used more than BENCH_MAX_REST cores during it
#   BENCH_DIR [bench-serving]     working directory (model, logs, JSON)
#   BENCH_KEEP [0]                1: keep the model directory afterwards
#   BUILD_DIR [build]  JOBS [nproc]  as for scripts/build.sh
# Needs redis-server and python3 (for the table), and perf for BENCH_PROFILE.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
BIN="$ROOT/$BUILD_DIR"
USERS=${BENCH_USERS:-1000000}
ITEMS=${BENCH_ITEMS:-100000}
DIM=${BENCH_DIM:-64}
INDEX=${BENCH_INDEX:-auto}
RATES=${BENCH_RATES:-500 1000 2000}
CONCURRENCY=${BENCH_CONCURRENCY:-4 8 16}
DURATION=${BENCH_DURATION:-30s}
WARMUP=${BENCH_WARMUP:-5s}
MIX=${BENCH_MIX:-home_known:100}
SLOT=${BENCH_SLOT:-homepage}
K=${BENCH_K:-20}
MICRO_TIME=${BENCH_MICRO_TIME:-2}
PROFILE=${BENCH_PROFILE:-0}
IDLE_WAIT=${BENCH_IDLE_WAIT:-0}
MAX_REST=${BENCH_MAX_REST:-0.1}
RETRIES=${BENCH_RETRIES:-0}
HANG=${BENCH_HANG:-4}
BURST=${BENCH_BURST:-2000}
BURST_MIXES=${BENCH_BURST_MIXES:-events:1 profile:1 home_known:1}
SCRAPE_RUNS=${BENCH_SCRAPE_RUNS:-2}
WORK=${BENCH_DIR:-bench-serving}

command -v redis-server > /dev/null || { echo "redis-server is required"; exit 1; }
command -v python3 > /dev/null || { echo "python3 is required for the table"; exit 1; }

bash scripts/build.sh recsys_synth_model recsys_load recsys_bench_micro recsys_server_bin

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
rm -rf "$WORK/models" "$WORK"/*.json "$WORK"/*.log "$WORK"/*.cpu
SLOTS_CONFIG="$ROOT/deploy/slots.textproto"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${BENCH_KEEP:-0}" != "1" ]]; then rm -rf "$WORK/models" "$WORK/redis"; fi
}
trap cleanup EXIT

echo "== machine"
{
  echo "nproc: $(nproc)"
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|Hypervisor)' || true
  free -g | head -2
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$WORK/machine.log"

# CPU accounting. The per-CPU busy ticks of /proc/stat under-count on this
# kind of VM under load, so CPU is summed per process instead (utime +
# stime + cutime + cstime of /proc/<pid>/stat: children that exited count
# through their parent).
# Ticks of every process except this script, the server, Redis and perf.
others_ticks() {
  # A process may exit between the glob and the read: not an error.
  { cat /proc/[0-9]*/stat 2> /dev/null || true; } | awk -v skip=" $$ ${SERVER_PID:-} ${REDIS_PID:-} ${PERF_PID:-} " '
    { pid = $1; sub(/^.*\) /, ""); if (index(skip, " " pid " ") == 0) t += $12 + $13 + $14 + $15 }
    END { print t + 0 }'
}
# utime + stime ticks of one process (0 when not running).
proc_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2> /dev/null || echo 0; }
# Waits (up to IDLE_WAIT seconds) until other processes used < 0.1 cores
# over a second.
wait_idle() {
  local deadline=$((SECONDS + IDLE_WAIT)) a b used
  while :; do
    a=$(others_ticks); sleep 1; b=$(others_ticks)
    used=$((b - a))  # ticks in one second
    if ((used * 10 < $(getconf CLK_TCK) || SECONDS >= deadline)); then
      echo "(other processes: $(awk -v u="$used" -v t="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", u / t}') cores before the run)"
      return
    fi
  done
}
# Runs a command, recording wall time and the CPU ticks of other processes,
# the server and Redis around it into $1.
measured() {
  local out=$1; shift
  local before after
  before="$(date +%s%N) $(others_ticks) $(proc_ticks "$SERVER_PID") $(proc_ticks "$REDIS_PID")"
  "$@"
  after="$(date +%s%N) $(others_ticks) $(proc_ticks "$SERVER_PID") $(proc_ticks "$REDIS_PID")"
  echo "$before $after" > "$out"
}
# Cores other processes used during a run: rest_cores RUN (RUN.cpu).
rest_cores() {
  awk -v t="$(getconf CLK_TCK)" '{printf "%.2f\n", ($6 - $2) / t / (($5 - $1) / 1e9)}' "$1.cpu"
}
# load_run NAME ARGS...: one screened recsys_load run into $WORK/NAME.{json,cpu,log}.
load_run() {
  local name=$1; shift
  local attempt rest
  for ((attempt = 0; attempt <= RETRIES; attempt++)); do
    wait_idle
    measured "$WORK/$name.cpu" "${LOAD[@]}" "$@" --json="$WORK/$name.json" > "$WORK/$name.log"
    cat "$WORK/$name.log"
    rest=$(rest_cores "$WORK/$name")
    echo "(other processes: $rest cores during the run)"
    if python3 -c "import sys; sys.exit(0 if $rest <= $MAX_REST else 1)"; then break; fi
    if ((attempt < RETRIES)); then echo "(more than $MAX_REST cores; repeating)"; fi
  done
}

echo "== redis-server"
REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize no --dir "$WORK/redis" > "$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=($REDIS_PID)
for _ in $(seq 1 100); do
  redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$REDIS_PORT" ping > /dev/null
echo "127.0.0.1:$REDIS_PORT"

echo "== model: $USERS users x $ITEMS items x $DIM dims (index $INDEX), Redis load"
"$BIN/bench/recsys_synth_model" --users="$USERS" --items="$ITEMS" --dim="$DIM" \
  --index="$INDEX" --model_root="$WORK/models" --version=1 \
  --redis="127.0.0.1:$REDIS_PORT" --redis_generation="${BENCH_REDIS_GENERATION:-1}" \
  | tee "$WORK/synth.log"
MODEL_DIR="$WORK/models/1"

echo "== floor and in-process micro-benchmarks (server not running)"
wait_idle
OMP_NUM_THREADS=1 "$BIN/bench/recsys_bench_micro" --model_root="$WORK/models" \
  --slots_config="$SLOTS_CONFIG" --slots="$SLOT,homepage_feed,homepage_hero,for_you" --k="$K" \
  --redis="127.0.0.1:$REDIS_PORT" \
  --benchmark_min_time="$MICRO_TIME" \
  --benchmark_out="$WORK/micro.json" --benchmark_out_format=json | tee "$WORK/micro.log"

echo "== recsys_server"
rm -f "$WORK/server.port" "$WORK/http.port"
# shellcheck disable=SC2086
OMP_NUM_THREADS=1 "$BIN/server/recsys_server" --model_root="$WORK/models" \
  --redis="127.0.0.1:$REDIS_PORT" --slots_config="$SLOTS_CONFIG" --poll_seconds=0 \
  --listen=127.0.0.1:0 --port_file="$WORK/server.port" \
  --http_listen=127.0.0.1:0 --http_port_file="$WORK/http.port" ${BENCH_SERVER_FLAGS:-} \
  > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=($SERVER_PID)
for _ in $(seq 1 1200); do
  [[ -s "$WORK/server.port" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
[[ -s "$WORK/server.port" ]] || { cat "$WORK/server.log"; exit 1; }
TARGET="127.0.0.1:$(cat "$WORK/server.port")"
echo "$TARGET, pid $SERVER_PID"
rss_kib() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$SERVER_PID/status"; }
RSS_LOADED=$(rss_kib VmRSS)

LOAD=("$BIN/bench/recsys_load" --target="$TARGET" --model_dir="$MODEL_DIR" --mix="$MIX"
      --slot="$SLOT" --k="$K" --duration="$DURATION" --warmup="$WARMUP")
RATES_ARRAY=($RATES)
LAST_RATE=${RATES_ARRAY[${#RATES_ARRAY[@]}-1]}
for rate in "${RATES_ARRAY[@]}"; do
  echo "== open loop, $rate requests/s"
  if [[ "$PROFILE" == "1" && "$rate" == "$LAST_RATE" ]]; then
    perf record -F 999 -p "$SERVER_PID" -o "$WORK/perf.data" > "$WORK/perf.log" 2>&1 &
    PERF_PID=$!
  fi
  load_run "open_$rate" --mode=open --rate="$rate"
  if [[ -n "${PERF_PID:-}" ]]; then
    kill -INT "$PERF_PID"; wait "$PERF_PID" || true; unset PERF_PID
  fi
done
for c in $CONCURRENCY; do
  echo "== closed loop, $c outstanding"
  load_run "closed_$c" --mode=closed --concurrency="$c"
done
if ((SCRAPE_RUNS > 0)); then
  CONCURRENCY_ARRAY=($CONCURRENCY)
  SCRAPE_C=${BENCH_SCRAPE_CONCURRENCY:-${CONCURRENCY_ARRAY[0]}}
  METRICS_URL="http://127.0.0.1:$(cat "$WORK/http.port")/metrics"
  for ((i = 1; i <= SCRAPE_RUNS; i++)); do
    echo "== closed loop, $SCRAPE_C outstanding, no scrape ($i/$SCRAPE_RUNS)"
    load_run "noscrape_$i" --mode=closed --concurrency="$SCRAPE_C"
    echo "== closed loop, $SCRAPE_C outstanding, GET /metrics every second ($i/$SCRAPE_RUNS)"
    ( while true; do curl -s -o /dev/null "$METRICS_URL"; sleep 1; done ) &
    SCRAPER_PID=$!
    load_run "scrape_$i" --mode=closed --concurrency="$SCRAPE_C"
    kill "$SCRAPER_PID"; wait "$SCRAPER_PID" 2> /dev/null || true
  done
  python3 - "$WORK" "$SCRAPE_RUNS" <<'PY' | tee "$WORK/scrape.log"
import json, os, sys
work, runs = sys.argv[1], int(sys.argv[2])
def load(kind):
    return [json.load(open(os.path.join(work, "%s_%d.json" % (kind, i)))) for i in range(1, runs + 1)]
off, on = load("noscrape"), load("scrape")
rate = lambda rs: sum(r["achieved_rate"] for r in rs) / len(rs)
p99 = lambda rs: sum(r["all"]["p99_ms"] for r in rs) / len(rs)
print("| scrape /metrics every second | throughput (requests/s) | p99 (ms) |")
print("|---|---|---|")
print("| no | %.0f | %.2f |" % (rate(off), p99(off)))
print("| yes | %.0f | %.2f |" % (rate(on), p99(on)))
print("| ratio (with / without) | %.3f | %.3f |" % (rate(on) / rate(off), p99(on) / p99(off)))
PY
fi
echo "== gRPC alone: health checks (no model, no Redis), 1000 requests/s"
load_run grpc_1000 --mode=open --rate=1000 --mix=health:100
if ((HANG > 0)); then
  echo "== Redis hung (SIGSTOP) for ${HANG}s in the middle of a 15 s run at 500 requests/s"
  wait_idle
  ( sleep $((5 + ${WARMUP%s})); kill -STOP "$REDIS_PID"; sleep "$HANG"; kill -CONT "$REDIS_PID" ) &
  HANG_PID=$!
  "${LOAD[@]}" --mode=open --rate=500 --duration=15s --json="$WORK/hang.json" > "$WORK/hang.log"
  wait "$HANG_PID" || true
  kill -CONT "$REDIS_PID" 2> /dev/null || true
  cat "$WORK/hang.log"
fi
RSS_NOW=$(rss_kib VmRSS)
RSS_PEAK=$(rss_kib VmHWM)
REDIS_MEM=$(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
if ((BURST > 0)); then
  for burst_mix in $BURST_MIXES; do
    echo "== burst: $BURST requests ($burst_mix) at once"
    wait_idle
    "${LOAD[@]}" --mode=burst --burst="$BURST" --mix="$burst_mix" --timeout=30s \
      --server_pid="$SERVER_PID" --json="$WORK/burst_${burst_mix%%:*}.json" \
      > "$WORK/burst_${burst_mix%%:*}.log"
    cat "$WORK/burst_${burst_mix%%:*}.log"
  done
fi

if [[ "$PROFILE" == "1" && -f "$WORK/perf.data" ]]; then
  echo "== perf: server during the $LAST_RATE requests/s run (self time)"
  for sort in dso symbol; do
    perf report -i "$WORK/perf.data" --no-children --sort "$sort" --stdio -g none 2> /dev/null \
      | awk '/^ +[0-9.]+%/ && n < 30 { print substr($0, 1, 160); n++ }'
  done | tee "$WORK/perf_top.log"
fi

echo
echo "== summary"
python3 - "$WORK" "$MODEL_DIR" "$RSS_LOADED" "$RSS_NOW" "$RSS_PEAK" "$REDIS_MEM" "$(getconf CLK_TCK)" "$SLOT" <<'PY'
import glob, json, os, sys
ncpu = os.cpu_count()
work, model_dir, rss_loaded, rss_now, rss_peak, redis_mem = sys.argv[1:7]
clk_tck = int(sys.argv[7])
slot = sys.argv[8]
manifest = json.load(open(os.path.join(model_dir, "manifest.json")))
micro = json.load(open(os.path.join(work, "micro.json")))
def qps(prefix, threads):
    for b in micro["benchmarks"]:
        if b["name"].startswith(prefix) and b["name"].endswith("/threads:%d" % threads):
            return b["items_per_second"]
    return None
floor1, floorn = qps("floor/", 1), qps("floor/", ncpu)
rule1, rulen = qps("rule_pass/%s/" % slot, 1), qps("rule_pass/%s/" % slot, ncpu)
def load(path):
    r = json.load(open(path))
    # Cores used during the run: server, Redis, load generator, other processes.
    t = [int(x) for x in open(path[:-5] + ".cpu").read().split()]
    (wall0, oth0, srv0, red0), (wall1, oth1, srv1, red1) = t[:4], t[4:]
    seconds = (wall1 - wall0) / 1e9
    cores = lambda ticks: ticks / clk_tck / seconds
    client = r["client_cpu_s"] / seconds
    r["cpu"] = (cores(srv1 - srv0), cores(red1 - red0), client, cores(oth1 - oth0))
    # CPU microseconds per request sent (warm-up included, as the ticks are).
    r["per_request_us"] = tuple(c * seconds / r["sent"] * 1e6 for c in r["cpu"][:3])
    return r
opens = sorted((load(p) for p in glob.glob(os.path.join(work, "open_*.json"))),
               key=lambda r: r["rate"])
closed = [load(p) for p in glob.glob(os.path.join(work, "closed_*.json"))]
grpc_only = [load(p) for p in glob.glob(os.path.join(work, "grpc_*.json"))]
hang = json.load(open(os.path.join(work, "hang.json"))) if os.path.exists(os.path.join(work, "hang.json")) else None
best = max(closed, key=lambda r: r["achieved_rate"]) if closed else None
files = manifest["files"]
vec_idx = sum(int(files[f]) for f in
              ("user_vectors.f32", "item_vectors.f32", "items_ip.faiss", "items_cos.faiss"))
idx = manifest.get("index", {})
mib = lambda b: b / 2**20
print("model: %s users x %s items x %s dims; index %s (%s)" % (
    manifest["num_users"], manifest["num_items"], manifest["dim"], idx.get("spec"),
    idx.get("reason")))
print()
print("| figure | value |")
print("|---|---|")
if floor1: print("| FAISS floor, 1 thread (k=20, user vectors) | %.0f queries/s |" % floor1)
if floorn: print("| FAISS floor, %d threads | %.0f queries/s |" % (ncpu, floorn))
if rule1: print("| in-process RecommendProducts (%s), 1 thread, in-memory features | %.0f requests/s |" % (slot, rule1))
if rulen: print("| in-process RecommendProducts (%s), %d threads | %.0f requests/s |" % (slot, ncpu, rulen))
if best:
    print("| recsys_server max throughput (closed loop, %d outstanding) | %.0f requests/s (p99 %.2f ms) |"
          % (best["concurrency"], best["achieved_rate"], best["all"]["p99_ms"]))
    if floorn:
        print("| max throughput / floor (%d threads) | %.1f%% |" % (ncpu, 100 * best["achieved_rate"] / floorn))
    if floor1:
        print("| max throughput / floor (1 thread) | %.1f%% |" % (100 * best["achieved_rate"] / floor1))
for tuning in ("ip", "cos"):
    t = idx.get(tuning, {})
    if t:
        print("| recall@%s of the %s index (%s=%s) | %.4f |" % (
            idx.get("recall_k"), tuning, t.get("parameter") or "exact", t.get("value", "-"),
            t.get("recall", 0)))
print("| vectors + indexes on disk | %.1f MiB |" % mib(vec_idx))
print("| server RSS after load / after the runs / peak | %.1f / %.1f / %.1f MiB |" % (
    int(rss_loaded) / 1024, int(rss_now) / 1024, int(rss_peak) / 1024))
print("| server RSS after the runs / (vectors + indexes) | %.2f |" % (int(rss_now) * 1024 / vec_idx))
print("| Redis used_memory | %.1f MiB |" % mib(int(redis_mem)))
print()
print("| load | achieved ok/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | CPU cores: server / redis / load gen / other processes | CPU us per request: server / redis / load gen |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in opens + sorted(closed, key=lambda r: r["concurrency"]):
    a = r["all"]
    name = ("open %d/s" % r["rate"]) if r["mode"] == "open" else ("closed, %d outstanding" % r["concurrency"])
    errors = ", ".join("%s %d" % (c, n) for c, n in a["codes"].items() if c != "OK") or "0"
    print("| %s | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %.2f / %.2f / %.2f / %.2f | %.0f / %.0f / %.0f |" % (
        (name, r["achieved_rate"], a["p50_ms"], a["p90_ms"], a["p99_ms"], a["p999_ms"], a["max_ms"],
         errors) + r["cpu"] + r["per_request_us"]))
for r in grpc_only:
    a = r["all"]
    errors = ", ".join("%s %d" % (c, n) for c, n in a["codes"].items() if c != "OK") or "0"
    print("| gRPC alone (health checks) open %d/s | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %.2f / %.2f / %.2f / %.2f | %.0f / %.0f / %.0f |" % (
        (r["rate"], r["achieved_rate"], a["p50_ms"], a["p90_ms"], a["p99_ms"], a["p999_ms"], a["max_ms"], errors)
        + r["cpu"] + r["per_request_us"]))
if hang:
    a = hang["all"]
    errors = ", ".join("%s %d" % (c, n) for c, n in a["codes"].items() if c != "OK") or "0"
    print("| open 500/s, Redis stopped for part of the run | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | - | - |" % (
        hang["achieved_rate"], a["p50_ms"], a["p90_ms"], a["p99_ms"], a["p999_ms"], a["max_ms"], errors))
print()
print("CPU from /proc/<pid>/stat (other processes: every process but these three, exited")
print("children included through their parents); kernel interrupt time is in none of them.")
redis_rows = [b for b in micro["benchmarks"] if b["name"].startswith(("redis/", "cached/", "features/", "rule_pass/", "index/", "fold_in/"))
              and "/threads:%d" % ncpu not in b["name"]]
if redis_rows:
    print()
    print("| in-process micro-benchmark (1 thread) | real us | CPU us |")
    print("|---|---|---|")
    for b in redis_rows:
        scale = {"ns": 1e-3, "us": 1, "ms": 1e3}[b["time_unit"]]
        print("| %s | %.1f | %.1f |" % (b["name"].replace("/real_time/threads:1", ""),
                                        b["real_time"] * scale, b["cpu_time"] * scale))
PY
