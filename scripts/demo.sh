#!/usr/bin/env bash
# The whole recsys path on a fresh Debian 12 machine, in one command:
# install dependencies, build, generate a demo shop, train, start Redis and
# the gRPC server, and print real recommendations from the live server.
#
#   bash scripts/demo.sh
#
# Environment:
#   DEMO_DIR      working directory for data, models and logs (default: demo)
#   DEMO_INPUT    train on this purchase file instead of the generated shop,
#                 e.g. ../shared/data/online_retail.csv.gz
#   KEEP_RUNNING  1: leave redis-server and recsys_server running at the end
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO_DIR=${DEMO_DIR:-demo}
BUILD_DIR=${BUILD_DIR:-build}
BIN="$ROOT/$BUILD_DIR"

bash scripts/install_deps.sh
bash scripts/build.sh recsys_datagen recsys_train recsys_server_bin recsys_cli recsys_audience recsys_nightly recsys_simulate recsys_import

mkdir -p "$DEMO_DIR"
DEMO_DIR=$(cd "$DEMO_DIR" && pwd)
# Each run starts from an empty Redis: its AOF (persistence, as in
# production) would otherwise bring back the previous run's data.
rm -rf "$DEMO_DIR/appendonlydir" "$DEMO_DIR/dump.rdb"
CLI="$BIN/tools/recsys_cli"

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

PIDS=()
cleanup() {
  if [[ "${KEEP_RUNNING:-0}" != "1" ]]; then
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
  fi
}
trap cleanup EXIT

echo "== 1. Demo data"
if [[ -n "${DEMO_INPUT:-}" ]]; then
  INPUT=$(cd "$(dirname "$DEMO_INPUT")" && pwd)/$(basename "$DEMO_INPUT")
  echo "training on $INPUT"
else
  INPUT="$DEMO_DIR/shop.csv"
  "$BIN/training/recsys_datagen" --out="$INPUT" --seed=7
fi
# The shop's customer file (a CRM export): birthdays for the birthday trigger.
printf 'user_id,email,birthday\nu000003,c3@example.com,1988-01-08\nu000004,c4@example.com,06-15\nu000005,c5@example.com,\n' \
  > "$DEMO_DIR/customers.csv"

echo "== 2. Redis (password-protected)"
REDIS_PORT=$(free_port)
# A fresh password per run, in files only the user can read: the redis-server
# takes it as its requirepass from a config file, and recsys_train and
# recsys_server from --redis_password_file, so it never shows in `ps`.
PASSWORD_FILE="$DEMO_DIR/redis_password"
(
  umask 077
  head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$PASSWORD_FILE"
  printf 'requirepass %s\n' "$(cat "$PASSWORD_FILE")" > "$DEMO_DIR/redis.conf"
)
redis-server "$DEMO_DIR/redis.conf" --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save "" --appendonly yes --appendfsync everysec --daemonize no --dir "$DEMO_DIR" \
  > "$DEMO_DIR/redis.log" 2>&1 &
PIDS+=($!)
redis_ping() {
  REDISCLI_AUTH=$(cat "$PASSWORD_FILE") redis-cli -p "$REDIS_PORT" ping 2>/dev/null |
    grep -q PONG
}
for _ in $(seq 1 100); do
  redis_ping && break
  sleep 0.1
done
redis_ping
echo "redis-server on 127.0.0.1:$REDIS_PORT (requirepass from $PASSWORD_FILE)"

echo "== 3. Train (and load purchase history + item metadata into Redis)"
"$BIN/training/recsys_train" --input="$INPUT" --model_root="$DEMO_DIR/models" \
  --redis="127.0.0.1:$REDIS_PORT" --redis_password_file="$PASSWORD_FILE" \
  --intelligence_config="$ROOT/deploy/intelligence.textproto" \
  --customers="$DEMO_DIR/customers.csv"
# The load wrote a new generation and switched the pointer to it at once.
echo "live Redis generation: $(REDISCLI_AUTH=$(cat "$PASSWORD_FILE") redis-cli -p "$REDIS_PORT" HGET 'rs:{gen}' live)"

echo "== 4. Server"
# One API key with every scope for this demo (production gives each client
# its own key and scopes); the server's keys file holds only its hash.
umask 077
"$CLI" new-api-key --name=demo --scopes=storefront,marketing,admin > "$DEMO_DIR/new-api-key.txt"
awk '$1=="key:"{print $2}' "$DEMO_DIR/new-api-key.txt" > "$DEMO_DIR/demo.key"
awk '$1=="line:"{sub(/^line: /, ""); print}' "$DEMO_DIR/new-api-key.txt" > "$DEMO_DIR/api_keys"
rm -f "$DEMO_DIR/new-api-key.txt"
umask 022
echo "API keys file: $(cat "$DEMO_DIR/api_keys")"
rm -f "$DEMO_DIR/server.port" "$DEMO_DIR/http.port"
"$BIN/server/recsys_server" --model_root="$DEMO_DIR/models" \
  --api_keys_file="$DEMO_DIR/api_keys" \
  --redis="127.0.0.1:$REDIS_PORT" --redis_password_file="$PASSWORD_FILE" \
  --listen=127.0.0.1:0 \
  --slots_config="$ROOT/deploy/slots.textproto" \
  --experiments_config="$ROOT/deploy/experiments.textproto" \
  --triggers_config="$ROOT/deploy/triggers.textproto" --trigger_interval=0 \
  --port_file="$DEMO_DIR/server.port" \
  --http_listen=127.0.0.1:0 --http_port_file="$DEMO_DIR/http.port" \
  > "$DEMO_DIR/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do
  [[ -s "$DEMO_DIR/server.port" ]] && break
  sleep 0.1
done
[[ -s "$DEMO_DIR/server.port" ]] || { cat "$DEMO_DIR/server.log"; exit 1; }
TARGET="127.0.0.1:$(cat "$DEMO_DIR/server.port")"
echo "recsys_server on $TARGET"
cli() { "$CLI" --target="$TARGET" --api_key_file="$DEMO_DIR/demo.key" "$@"; }
# Without a key, an admin call is refused.
if refused=$(env -u RECSYS_API_KEY "$CLI" --target="$TARGET" rollback 2>&1); then
  echo "an unauthenticated Rollback was accepted"; exit 1
fi
echo "-- Rollback without an API key: $refused"

echo
echo "== 5. Live answers"
cli health
cli health --service=recsys.feature_store
cli info
# Three kinds of user: the heaviest buyer, a light buyer, and a stranger.
MODEL_DIR="$DEMO_DIR/models/$(ls "$DEMO_DIR/models" | grep -E '^[0-9]+$' | sort -n | tail -1)"
HEAVY=$(awk 'NR==1{print; exit}' "$MODEL_DIR/users.tsv")
LIGHT=$(awk 'NR==50{print; exit}' "$MODEL_DIR/users.tsv")
# The homepage (deploy/slots.textproto) at breakfast and in the evening:
# dayparts boost coffee/grocery in the morning and home/books/toys at night.
MORNING=$(date -u -d "2025-01-06 08:00" +%s)
EVENING=$(date -u -d "2025-01-06 20:00" +%s)
for user in "$HEAVY" "$LIGHT"; do
  echo
  cli profile --user="$user" --history=5
  for when in "$MORNING" "$EVENING"; do
    echo
    echo "-- homepage at $(date -u -d "@$when" '+%Y-%m-%d %H:%M') UTC"
    cli recommend --user="$user" --time="$when" \
      --slots=homepage_hero:4,buy_again:3,for_you:5,new_for_you:4,homepage_feed:6
  done
done
echo
cli recommend --user=new-visitor --slots=homepage_hero:4
TOP_ITEM=$(awk -F'\t' 'NR==1{print $2; exit}' "$MODEL_DIR/popular.tsv")
echo
cli similar --item="$TOP_ITEM" --k=5
echo
cli similar --item="$TOP_ITEM" --k=5 --mode=complements

echo
echo "== 6. Real time: the new visitor views two items, then buys one"
SECOND_ITEM=$(awk -F'\t' 'NR==2{print $2; exit}' "$MODEL_DIR/popular.tsv")
cli event --user=new-visitor --item="$TOP_ITEM" --type=view
cli event --user=new-visitor --item="$SECOND_ITEM" --type=purchase --price=3.5
cli recommend --user=new-visitor --slots=homepage_hero:4

echo
echo "== 7. Catalog: two new products enter the 15-day trial pool"
# Listed two days before the morning above; the model has never seen them,
# so each is scored with its category's mean vector until the next training.
LISTED=$((MORNING - 2 * 86400))
cli item --item=new-drip-coffee --category=coffee_tea --item_price=9.5 \
  --title="Single-origin drip bags" --stock=40 --listed="$LISTED"
cli item --item=new-throw-blanket --category=home --item_price=34 \
  --title="Waffle throw blanket" --stock=12 --listed="$LISTED"
echo
echo "-- homepage feed at $(date -u -d "@$MORNING" '+%Y-%m-%d %H:%M') UTC (trial_share 0.1)"
cli recommend --user="$HEAVY" --time="$MORNING" --slots=homepage_feed:10
cli similar --item=new-drip-coffee --k=3
# The storefront reports what it showed and what the shopper did.
cli event --user="$HEAVY" --item=new-drip-coffee --type=impression --time="$MORNING"
cli event --user="$HEAVY" --item=new-drip-coffee --type=click --time="$MORNING"
cli event --user="$LIGHT" --item=new-throw-blanket --type=impression --time="$MORNING"
echo
cli trial --time="$MORNING"

echo
echo "== 8. Marketing: segments, coupons, a win-back audience"
# Segments and customer intelligence (tags, intent, churn risk, next
# expected purchase: the profiles below) were computed by recsys_train and
# loaded into Redis; the coupon catalog is managed through the Admin API.
cli load-coupons --file="$ROOT/deploy/coupons.textproto"
CORE=$(awk -F'\t' '$2=="core" && ($3=="gold" || $3=="black"){print $1; exit}' \
  "$MODEL_DIR/segments.tsv")
DORMANT=$(awk -F'\t' '$2=="dormant"{print $1; exit}' "$MODEL_DIR/segments.tsv")
for user in "$CORE" "$DORMANT"; do
  echo
  cli profile --user="$user" --history=3
  cli coupons --user="$user" --k=3 --time="$MORNING"
done
echo
cli coupons --user=first-time-visitor --k=3 --time="$MORNING"
echo
echo "-- tier benefits (growth tiers of deploy/intelligence.textproto): a platinum member"
echo "   sees a product launching in 2 days (early access, deploy/slots.textproto) and"
echo "   gets the platinum-only coupon PLATINUM_THANKS; a silver member gets neither"
PLATINUM=$(awk -F'\t' 'NR>1 && $12=="platinum"{print $1; exit}' "$MODEL_DIR/intel.tsv")
SILVER=$(awk -F'\t' 'NR>1 && $12=="silver"{print $1; exit}' "$MODEL_DIR/intel.tsv")
cli item --item=new-espresso-grinder --category=coffee_tea --item_price=59 \
  --title="Burr espresso grinder" --stock=20 --listed=$((MORNING + 2 * 86400))
for user in "$PLATINUM" "$SILVER"; do
  cli recommend --user="$user" --time="$MORNING" --slots=homepage_feed:10 \
    --exclude=new-drip-coffee,new-throw-blanket
  cli coupons --user="$user" --k=5 --time="$MORNING"
done
echo
echo "-- dormant users (90+ days) for the recall coupon COMEBACK15, best first"
cli audience --coupon=COMEBACK15 --k=8 --time="$MORNING"
echo
echo "-- the first of them gets the coupon and redeems it on a 48.00 order"
FIRST=$(cli audience --coupon=COMEBACK15 --k=1 --time="$MORNING" | awk 'NR==3{print $2}')
cli event --type=coupon_issued --user="$FIRST" --coupon=COMEBACK15 --time="$MORNING"
cli event --type=coupon_redeemed --user="$FIRST" --coupon=COMEBACK15 --price=48 --time="$MORNING" \
  --event_id=order-1001/COMEBACK15
echo "-- the shop retries that call (e.g. after a timeout) with the same event_id: applied once"
cli event --type=coupon_redeemed --user="$FIRST" --coupon=COMEBACK15 --price=48 --time="$MORNING" \
  --event_id=order-1001/COMEBACK15
echo "-- redeeming the same issuance on another order is refused"
cli event --type=coupon_redeemed --user="$FIRST" --coupon=COMEBACK15 --price=48 --time="$MORNING" \
  --event_id=order-1002/COMEBACK15
cli list-coupons
echo
echo "-- with a 30-day contact cap for the win_back campaign, $FIRST is left out"
cli audience --coupon=COMEBACK15 --k=3 --contact_cap_days=30 --time="$MORNING"
echo
echo "-- nightly export: one file per campaign and segment"
"$BIN/tools/recsys_audience" --target="$TARGET" --api_key_file="$DEMO_DIR/demo.key" --coupons=COMEBACK15,COMEBACK_GROCERY20,SPEND60SAVE8 \
  --contact_cap_days=30 --out_dir="$DEMO_DIR/audiences" --time="$MORNING"
head -3 "$DEMO_DIR/audiences/win_back__dormant.csv"
echo
echo "-- a cart left by $LIGHT becomes one offer in the outbox 4 h later (deploy/triggers.textproto)"
cli event --type=add_to_cart --user="$LIGHT" --item="$TOP_ITEM" --time="$MORNING" --event_id="cart-$$"
cli offers --time=$((MORNING + 4 * 3600))
RECSYS_REDIS_PASSWORD=$(cat "$PASSWORD_FILE") bash "$ROOT/scripts/offers_consumer.sh" \
  --redis="127.0.0.1:$REDIS_PORT" --once
echo
# Live tags (deploy/intelligence.textproto): a rule that only counts events
# in a category is completed by RecordEvents at once, not at the next run.
# The record's live column says how far each customer is from such a rule.
LIVE="" LIVE_NEED=""
read -r LIVE LIVE_NEED < <(awk -F'\t' -v skip="$LIGHT $FIRST u000003" \
  'FNR>1 && !index(" " skip " ", " " $1 " ") {n=split($15, e, "|")
     for (i=1;i<=n;i++) {split(e[i], f, "@")
       if (f[1]=="fitness_enthusiast" && f[4]+0==0 && f[5]+0==0) print $1, f[3]-f[6]}}' \
  "$MODEL_DIR/intel.tsv" | sort -k2,2n -k1,1 | head -1) || true
SPORTS_ITEM=$(awk -F'\t' '$2=="sports"{print $1; exit}' "$MODEL_DIR/items.tsv")
if [[ -n "$LIVE" && -n "$SPORTS_ITEM" ]]; then
  echo "-- a live tag: $LIVE is $LIVE_NEED sports order(s) short of fitness_enthusiast (3 in 180 days)"
  cli profile --user="$LIVE" --history=1 > "$DEMO_DIR/live_profile.txt"
  grep -m1 "tags" "$DEMO_DIR/live_profile.txt"
  for i in $(seq 1 "$LIVE_NEED"); do
    cli event --type=purchase --user="$LIVE" --item="$SPORTS_ITEM" --price=25 \
      --time="$MORNING" --event_id="live-$$-$i"
  done
  cli profile --user="$LIVE" --history=1 > "$DEMO_DIR/live_profile.txt"
  grep -m1 "tags" "$DEMO_DIR/live_profile.txt"
fi
echo
echo "-- the nightly churn risk drives the win-back rule (risk >= 0.2, spend >= 100): the"
echo "   18:00 pass checks an at-risk customer and a steady one; only the first gets an offer"
EVENING=$((MORNING + 10 * 3600))
# Customers with no item due for a replenishment by then (one offer a day).
intel_pick() {
  awk -F'\t' -v t="$EVENING" -v skip="$LIGHT $FIRST u000003 $LIVE" \
    'FNR==1{next} NR==FNR{m[$1]=$7; next}
     index(" " skip " ", " " $1 " "){next}
     {due=0; n=split($13, d, "|"); for (i=1;i<=n;i++) {split(d[i], f, "@"); if (f[2]+0 <= t) due=1}}
     !due && m[$1] >= 100 {print $1, $6, $5}' "$MODEL_DIR/segments.tsv" "$MODEL_DIR/intel.tsv"
}
read -r RISKY RISKY_CHURN _ < <(intel_pick | sort -k2,2gr | head -1)
read -r STEADY STEADY_CHURN _ < <(intel_pick | awk '$3 >= 0.5' | sort -k2,2g | head -1)
echo "$RISKY: churn risk $RISKY_CHURN; $STEADY: churn risk $STEADY_CHURN"
cli offers --time="$EVENING" --users="$RISKY,$STEADY"
echo
echo "-- a birthday greeting 3 days ahead (customer file -> intelligence record -> trigger)"
BDAY=$(awk -F'\t' 'NR>1 && $14!=""{print $1; exit}' "$MODEL_DIR/intel.tsv")
if [[ -n "$BDAY" ]]; then
  # The profile serves the birthday the customer file put in the record.
  cli profile --user="$BDAY" --history=1
  cli offers --time="$EVENING" --users="$BDAY"
else
  echo "(no customer of the file has purchases in this data: skipped)"
fi

echo
echo "== 9. Nightly job on the same history: nothing newer than the served model,"
echo "   so the gate cannot tell the models apart and refuses (exit 3); the served"
echo "   model and Redis stay as they were (docs/nightly.md)"
nightly_rc=0
"$BIN/nightly/recsys_nightly" --input="$INPUT" --model_root="$DEMO_DIR/models" \
  --redis="127.0.0.1:$REDIS_PORT" --redis_password_file="$PASSWORD_FILE" \
  --textfile="$DEMO_DIR/recsys_nightly.prom" 2>"$DEMO_DIR/nightly.log" || nightly_rc=$?
# The nightly training tunes itself on two validation windows at the end of
# the history (docs/evaluation.md, "Self-tuning and the guard").
grep -h "tune: chose" "$DEMO_DIR/nightly.log" | sed 's/^[^ ]* INFO //'
# The guard keeps the ranker only where it beats the best baseline beyond
# chance on the validation window.
grep -h "tune: guard:" "$DEMO_DIR/nightly.log" | sed 's/^[^ ]* INFO //'
# The chosen item neighbours are published with the model (neighbors.bin),
# so the server loads them instead of computing them.
grep -h "ranker neighbours" "$DEMO_DIR/nightly.log" | sed 's/^[^ ]* INFO //'
grep -h "gate: " "$DEMO_DIR/nightly.log" | sed 's/^[^ ]* INFO //'
echo "recsys_nightly exit code: $nightly_rc"
grep '^recsys_nightly_gate_decision' "$DEMO_DIR/recsys_nightly.prom"

echo
echo "== 10. A/B experiments (deploy/experiments.textproto, docs/experiments.md)"
echo "-- a homepage layout test and a welcome-coupon holdout on simulated visitors"
echo "   with known truth: click rate 4% (control) vs 6% (waterfall) per impression;"
echo "   orders 5% without a coupon, +4 points with one"
"$BIN/tools/recsys_simulate" --target="$TARGET" --api_key_file="$DEMO_DIR/demo.key" \
  --users=2000 --seed=7 --experiment=homepage_layout --slot=homepage_feed \
  --click=control:0.04,waterfall:0.06 --buy=0.25 \
  --coupon_experiment=welcome_holdout --base_conversion=0.05 --coupon_uplift=0.04
echo
cli experiment-report

echo
echo "== 11. Metrics and the live status page"
echo "-- the storefront reports what it showed and what was clicked, per slot"
cli event --type=impression --user="$HEAVY" --item="$TOP_ITEM" --slot=homepage_hero --time="$MORNING" \
  --event_id="hero-impression-$$"
cli event --type=click --user="$HEAVY" --item="$TOP_ITEM" --slot=homepage_hero --time="$MORNING" \
  --event_id="hero-click-$$"
HTTP="http://127.0.0.1:$(cat "$DEMO_DIR/http.port")"
echo "status page: $HTTP/   metrics: $HTTP/metrics   probes: $HTTP/healthz $HTTP/readyz"
curl -s "$HTTP/metrics" | grep -E '^recsys_(rpc_duration_seconds_count\{service="recsys.v1.Recommender",method="RecommendProducts"|model_info|slot_impressions_total|slot_exposed_users|experiment_impressions_total|coupon_redeemed_total|redis_failing_fast)' | head -18

echo
echo "== 12. Vectors trained on Spark (docs/scaling.md): the served model's vectors"
echo "   written in Spark MLlib ALS's layout (userFactors/itemFactors JSON lines,"
echo "   integer ids, id maps; two users left out), published again by recsys_import"
SERVED="$DEMO_DIR/models/$(ls "$DEMO_DIR/models" | grep -E '^[0-9]+$' | sort -n | tail -1)"
python3 - "$SERVED" "$DEMO_DIR/spark" <<'PY'
import json, os, struct, sys
served, out = sys.argv[1], sys.argv[2]
dim = json.load(open(f"{served}/manifest.json"))["dim"]
for side, ids_file, vec_file, skip in (("user", "users.tsv", "user_vectors.f32", 2),
                                       ("item", "items.tsv", "item_vectors.f32", 0)):
    ids = [l.rstrip("\n").split("\t")[0] for l in open(f"{served}/{ids_file}")]
    raw = open(f"{served}/{vec_file}", "rb").read()
    body = raw[len(raw) - len(ids) * dim * 4:]  # after the header
    d = f"{out}/{side}Factors"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/part-00000.json", "w") as f, open(f"{out}/{side}_index.csv", "w") as m:
        m.write("index,id\n")
        for i, name in enumerate(ids[skip:]):
            v = struct.unpack_from(f"<{dim}f", body, (i + skip) * dim * 4)
            f.write(json.dumps({"id": i, "features": [float(x) for x in v]}) + "\n")
            m.write(f"{i},{name}\n")
    open(f"{d}/_SUCCESS", "w").close()
PY
"$BIN/training/recsys_import" --input="$INPUT" --model_root="$DEMO_DIR/imported" \
  --user_factors="$DEMO_DIR/spark/userFactors" --item_factors="$DEMO_DIR/spark/itemFactors" \
  --user_id_map="$DEMO_DIR/spark/user_index.csv" --item_id_map="$DEMO_DIR/spark/item_index.csv" \
  > "$DEMO_DIR/import.log"
grep -E "^(user|item) factors: .* read|^imported vectors|^published" "$DEMO_DIR/import.log"

if [[ "${KEEP_RUNNING:-0}" == "1" ]]; then
  echo
  echo "Still running: redis-server (port $REDIS_PORT) and recsys_server ($TARGET)."
  echo "Status page: $HTTP/ (metrics: $HTTP/metrics)"
  echo "Try: $CLI --target=$TARGET --api_key_file=$DEMO_DIR/demo.key recommend --user=$HEAVY"
  echo "Stop with: kill ${PIDS[*]}"
fi
