#!/usr/bin/env bash
# Soak test (docs/reliability.md, "Soak"): a small shop served under mixed
# load for SOAK_DURATION while faults are injected, then a check that every
# acknowledged write was stored exactly once.
#
#   bash scripts/soak.sh                      # about 10 minutes
#   SOAK_DURATION=180 bash scripts/soak.sh    # 3 minutes
#
# What runs:
#   - recsys_datagen + recsys_train: a small shop (SOAK_USERS x SOAK_ITEMS),
#     loaded into a password-protected redis-server with AOF persistence
#     (appendonly yes, appendfsync everysec) on a free port;
#   - recsys_server over that Redis, with an API keys file;
#   - recsys_load, open loop at SOAK_RATE requests/s for the whole run:
#     homepage, similar items, coupons, and purchases (RecordEvents of one
#     purchase by a user of its own, with a unique event_id and an explicit
#     timestamp; UNAVAILABLE / DEADLINE_EXCEEDED retried with the same id,
#     every final answer logged to an ack log);
#   - a fault cycle, repeated until the end: publish a new model version
#     (recsys_train into the model root; the server's poller takes it),
#     roll back (recsys_cli rollback) and reload the newest (recsys_cli
#     reload), restart Redis (SIGTERM; AOF brings the data back), pause
#     Redis for 2 s (SIGSTOP / SIGCONT), and a burst of purchases
#     (recsys_load closed loop, SOAK_BURST outstanding, 3 s, own ack log).
# At the end it reads every logged purchase back from Redis
# (entries of {p}u:{<buyer>}:rp for <item>: 1 when stored once) and reports:
#   failed RPCs           calls whose final status was not OK (every kind,
#                         after the purchase retries)
#   acked, not stored     purchases answered OK whose count is 0
#   stored twice          purchases whose count is 2 or more
#   server RSS            at start, middle and end (kB)
# The goal is 0, 0, 0 and a flat RSS. Exit status 1 when a figure misses
# the goal for acked-not-stored or stored-twice.
#
# Environment (defaults in brackets):
#   SOAK_DURATION [600]  seconds of load      SOAK_RATE [100]  requests/s
#   SOAK_MIX [home_known:55,similar:15,coupons:5,purchase:25]
#   SOAK_USERS [2000] SOAK_ITEMS [500]        shop size (recsys_datagen)
#   SOAK_BURST [48]      outstanding purchases of each burst
#   SOAK_CYCLE [30]      seconds between fault cycles
#   SOAK_DIR [soak]      working directory (logs, ack logs, report)
#   BUILD_DIR [build]  JOBS [nproc]  as for scripts/build.sh
# Needs redis-server, redis-cli and python3. Not part of the ctest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
BIN="$ROOT/$BUILD_DIR"
DURATION=${SOAK_DURATION:-600}
RATE=${SOAK_RATE:-100}
MIX=${SOAK_MIX:-home_known:55,similar:15,coupons:5,purchase:25}
USERS=${SOAK_USERS:-2000}
ITEMS=${SOAK_ITEMS:-500}
BURST=${SOAK_BURST:-48}
CYCLE=${SOAK_CYCLE:-30}
WORK=${SOAK_DIR:-soak}

for tool in redis-server redis-cli python3; do
  command -v "$tool" > /dev/null || { echo "$tool is required"; exit 1; }
done

bash scripts/build.sh recsys_datagen recsys_train recsys_server_bin recsys_cli recsys_load

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
rm -rf "$WORK/models" "$WORK/redis" "$WORK"/*.log "$WORK"/*.tsv "$WORK"/*.json
mkdir -p "$WORK/redis"
CLI="$BIN/tools/recsys_cli"
LOAD="$BIN/bench/recsys_load"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

SERVER_PID=""
REDIS_PID=""
LOAD_PID=""
cleanup() {
  for pid in "$LOAD_PID" "$SERVER_PID" "$REDIS_PID"; do
    [[ -n "$pid" ]] && kill -CONT "$pid" 2> /dev/null || true
    [[ -n "$pid" ]] && kill "$pid" 2> /dev/null || true
  done
  wait 2> /dev/null || true
}
trap cleanup EXIT

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$WORK/soak.log"; }

log "== shop: $USERS users x $ITEMS items"
"$BIN/training/recsys_datagen" --out="$WORK/shop.csv" --users="$USERS" --items="$ITEMS" \
  --seed=11 > "$WORK/datagen.log" 2>&1

log "== redis (password, AOF)"
REDIS_PORT=$(free_port)
PASSWORD_FILE="$WORK/redis_password"
(
  umask 077
  head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$PASSWORD_FILE"
  {
    printf 'requirepass %s\n' "$(cat "$PASSWORD_FILE")"
    printf 'port %s\nbind 127.0.0.1\ndir %s\n' "$REDIS_PORT" "$WORK/redis"
    printf 'appendonly yes\nappendfsync everysec\nsave ""\n'
  } > "$WORK/redis.conf"
)
rcli() { REDISCLI_AUTH=$(cat "$PASSWORD_FILE") redis-cli -p "$REDIS_PORT" "$@"; }
start_redis() {
  redis-server "$WORK/redis.conf" >> "$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 200); do
    rcli ping 2> /dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "redis-server did not start"; cat "$WORK/redis.log"; exit 1
}
start_redis

log "== train (and load Redis)"
"$BIN/training/recsys_train" --input="$WORK/shop.csv" --model_root="$WORK/models" \
  --factors=32 --redis="127.0.0.1:$REDIS_PORT" --redis_password_file="$PASSWORD_FILE" \
  > "$WORK/train.log" 2>&1

log "== server"
umask 077
"$CLI" new-api-key --name=soak --scopes=storefront,marketing,admin > "$WORK/new-api-key.txt"
awk '$1=="key:"{print $2}' "$WORK/new-api-key.txt" > "$WORK/soak.key"
awk '$1=="line:"{sub(/^line: /, ""); print}' "$WORK/new-api-key.txt" > "$WORK/api_keys"
rm -f "$WORK/new-api-key.txt"
umask 022
"$BIN/server/recsys_server" --model_root="$WORK/models" --api_keys_file="$WORK/api_keys" \
  --redis="127.0.0.1:$REDIS_PORT" --redis_password_file="$PASSWORD_FILE" \
  --listen=127.0.0.1:0 --http_listen=127.0.0.1:0 --poll_seconds=2 --coupons="$ROOT/deploy/coupons.textproto" \
  --marketing_config="$ROOT/deploy/marketing.textproto" \
  --port_file="$WORK/server.port" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  [[ -s "$WORK/server.port" ]] && break
  sleep 0.1
done
[[ -s "$WORK/server.port" ]] || { cat "$WORK/server.log"; exit 1; }
TARGET="127.0.0.1:$(cat "$WORK/server.port")"
cli() { "$CLI" --target="$TARGET" --api_key_file="$WORK/soak.key" "$@"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
log "recsys_server on $TARGET, redis on 127.0.0.1:$REDIS_PORT"
RSS_START=$(rss)

log "== load: $RATE requests/s for ${DURATION}s, mix $MIX"
"$LOAD" --target="$TARGET" --api_key_file="$WORK/soak.key" --model_dir="$WORK/models/$(ls "$WORK/models" | sort -n | tail -1)" \
  --mode=open --rate="$RATE" --duration="${DURATION}s" --warmup=0s --mix="$MIX" \
  --timeout=2s --event_retries=40 --event_retry_backoff=250ms --run_id=soak-main \
  --ack_log="$WORK/acks-main.tsv" --json="$WORK/load-main.json" > "$WORK/load-main.log" 2>&1 &
LOAD_PID=$!

START=$SECONDS
RSS_MIDDLE=""
cycle=0
bursts=()
until (( SECONDS - START >= DURATION )); do
  cycle=$((cycle + 1))
  log "-- cycle $cycle: server RSS $(rss) kB; publish a new model version"
  "$BIN/training/recsys_train" --input="$WORK/shop.csv" --model_root="$WORK/models" \
    --factors=32 >> "$WORK/train.log" 2>&1
  sleep 3
  log "-- cycle $cycle: rollback, then reload the newest"
  cli rollback >> "$WORK/cli.log" 2>&1 || log "rollback failed (see cli.log)"
  sleep 2
  cli reload >> "$WORK/cli.log" 2>&1 || log "reload failed (see cli.log)"
  sleep 2
  log "-- cycle $cycle: restart redis (AOF)"
  kill "$REDIS_PID"
  wait "$REDIS_PID" 2> /dev/null || true
  start_redis
  sleep 3
  log "-- cycle $cycle: pause redis for 2 s"
  kill -STOP "$REDIS_PID"
  sleep 2
  kill -CONT "$REDIS_PID"
  sleep 2
  log "-- cycle $cycle: burst of purchases ($BURST outstanding, 3 s)"
  "$LOAD" --target="$TARGET" --api_key_file="$WORK/soak.key" \
    --items_file="$WORK/models/$(ls "$WORK/models" | sort -n | tail -1)/items.tsv" \
    --mode=closed --concurrency="$BURST" --duration=3s --warmup=0s --mix=purchase:100 \
    --timeout=2s --event_retries=40 --event_retry_backoff=250ms --run_id="soak-burst$cycle" \
    --ack_log="$WORK/acks-burst.tsv" --json="$WORK/load-burst$cycle.json" \
    > "$WORK/load-burst$cycle.log" 2>&1 || log "burst $cycle: recsys_load failed"
  bursts+=("$WORK/load-burst$cycle.json")
  if [[ -z "$RSS_MIDDLE" ]] && (( SECONDS - START >= DURATION / 2 )); then RSS_MIDDLE=$(rss); fi
  rest=$((CYCLE - 17))
  (( rest > 0 )) && sleep "$rest"
done
[[ -n "$RSS_MIDDLE" ]] || RSS_MIDDLE=$(rss)
log "== waiting for the load to finish"
wait "$LOAD_PID" || log "recsys_load exited with $?"
LOAD_PID=""
RSS_END=$(rss)

log "== checking every logged purchase in Redis"
python3 - "$WORK" "$REDIS_PORT" "$PASSWORD_FILE" "$RSS_START" "$RSS_MIDDLE" "$RSS_END" \
  "$DURATION" "$cycle" <<'PY' | tee "$WORK/report.txt"
import glob, json, os, subprocess, sys
work, port, password_file, rss0, rss1, rss2, duration, cycles = sys.argv[1:9]
password = open(password_file).read().strip()
events = []
for path in sorted(glob.glob(os.path.join(work, "acks-*.tsv"))):
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) == 5:
            events.append((f[0], f[1], f[2], int(f[3]), int(f[4])))
# One EVAL per event, as lines of one redis-cli run (ids hold no spaces):
# the number of entries of the user's purchase journal (members
# "<length>:<dedup key><item>", docs/redis_keys.md) for the item; redis-cli
# prints one integer per line.
count = ("local n = 0 for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do "
         "local c = string.find(m, ':', 1, true) "
         "if c and string.sub(m, c + 1 + tonumber(string.sub(m, 1, c - 1))) == ARGV[1] "
         "then n = n + 1 end end return n")
commands = "".join('EVAL "%s" 1 rs:u:{%s}:rp %s\n' % (count, user, item)
                   for _, user, item, _, _ in events)
env = dict(os.environ, REDISCLI_AUTH=password)
reply = subprocess.run(["redis-cli", "-p", port], input=commands.encode(), capture_output=True,
                       env=env, check=True).stdout.decode().split("\n")
if len(reply) < len(events):
    sys.exit("redis-cli answered %d of %d lookups" % (len(reply), len(events)))
counts = [int(r) if r.strip().isdigit() else 0 for r in reply[:len(events)]]
acked = sum(1 for e in events if e[3] == 0)
acked_lost = sum(1 for e, c in zip(events, counts) if e[3] == 0 and c == 0)
twice = sum(1 for c in counts if c >= 2)
unacked = [(e, c) for e, c in zip(events, counts) if e[3] != 0]
retried = sum(1 for e in events if e[4] > 1)
failed = {}
for path in glob.glob(os.path.join(work, "load-*.json")):
    result = json.load(open(path))
    for code, n in result["all"]["codes"].items():
        if code not in ("0", "OK"):
            failed[code] = failed.get(code, 0) + n
calls = 0
for path in glob.glob(os.path.join(work, "load-*.json")):
    calls += sum(json.load(open(path))["all"]["codes"].values())
print("soak: %s s of load, %s fault cycles" % (duration, cycles))
print("calls:                       %d" % calls)
print("failed RPCs (final, non-OK): %d %s" % (sum(failed.values()), failed or ""))
print("purchases logged:            %d (acknowledged %d, retried at least once %d)"
      % (len(events), acked, retried))
print("acknowledged but not stored: %d" % acked_lost)
print("stored twice:                %d" % twice)
print("not acknowledged:            %d (stored: %d)"
      % (len(unacked), sum(1 for _, c in unacked if c > 0)))
print("server RSS kB start/middle/end: %s / %s / %s" % (rss0, rss1, rss2))
sys.exit(1 if acked_lost or twice else 0)
PY
