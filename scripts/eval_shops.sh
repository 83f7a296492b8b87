#!/usr/bin/env bash
# Every model of recsys_eval on shops of different kinds, in one table
# (docs/evaluation.md, "Across shops"): the generator's four kinds of shop,
# UCI Online Retail (protocol A) and MovieLens 100K with its timestamps.
# Each shop is a time split; R@20 of every model, both settings (all items,
# new items), measured in one run.
#   bash scripts/eval_shops.sh
# Environment: EVAL_USERS (2000) and EVAL_ITEMS (800) of the generated shops,
# RECSYS_DATA_DIR (../shared/data) for the real data sets (skipped when
# absent), OUT_DIR (eval-shops/) for the generated files and JSON reports.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
USERS=${EVAL_USERS:-2000}
ITEMS=${EVAL_ITEMS:-800}
DATA_DIR=${RECSYS_DATA_DIR:-$ROOT/../shared/data}
OUT_DIR=${OUT_DIR:-$ROOT/eval-shops}
mkdir -p "$OUT_DIR"

BUILD_DIR="$BUILD_DIR" bash "$ROOT/scripts/build.sh" recsys_datagen recsys_eval > "$OUT_DIR/build.log" 2>&1 ||
  { tail -20 "$OUT_DIR/build.log"; exit 1; }
DATAGEN="$BUILD_DIR/training/recsys_datagen"
EVAL="$BUILD_DIR/evaluation/recsys_eval"

reports=()
# Generated shops: a year ending 2024-12-31; the last two months are the test.
for kind in general grocery fashion electronics; do
  "$DATAGEN" --kind="$kind" --users="$USERS" --items="$ITEMS" --seed=1 \
    --out="$OUT_DIR/$kind.csv.gz" > /dev/null
  "$EVAL" --input="$OUT_DIR/$kind.csv.gz" --cut=2024-11-01 \
    --ranker_ceiling --report_json="$OUT_DIR/$kind.json" > "$OUT_DIR/$kind.txt" 2>&1 ||
    { cat "$OUT_DIR/$kind.txt"; exit 1; }
  reports+=("$kind shop (generated, $USERS users x $ITEMS items)=$OUT_DIR/$kind.json")
  echo "eval_shops: $kind done"
done
if [[ -f "$DATA_DIR/online_retail.csv.gz" ]]; then
  "$EVAL" --data_dir="$DATA_DIR" --protocols=A --ranker_ceiling --report_json="$OUT_DIR/online_retail.json" \
    > "$OUT_DIR/online_retail.txt" 2>&1 || { cat "$OUT_DIR/online_retail.txt"; exit 1; }
  reports+=("UCI Online Retail (protocol A)=$OUT_DIR/online_retail.json")
  echo "eval_shops: online_retail done"
fi
if [[ -f "$DATA_DIR/ml-100k_u.data.gz" ]]; then
  # MovieLens 100K (1997-09-20 .. 1998-04-22): ratings as interactions.
  "$EVAL" --input="$DATA_DIR/ml-100k_u.data.gz" --delimiter=tab \
    --columns='user=#1,item=#2,time=#4' --cut=1998-01-01 --ranker_ceiling \
    --report_json="$OUT_DIR/ml-100k.json" > "$OUT_DIR/ml-100k.txt" 2>&1 ||
    { cat "$OUT_DIR/ml-100k.txt"; exit 1; }
  reports+=("MovieLens 100K (time split 1998-01-01)=$OUT_DIR/ml-100k.json")
  echo "eval_shops: ml-100k done"
fi

python3 - "${reports[@]}" <<'PY'
import json, sys
MODELS = ["popularity", "buy_again", "item_knn", "ease", "ials", "production_ranker"]
BASELINES = ["popularity", "buy_again", "item_knn", "ease", "ials"]
# The ranker with weights fit on the test period itself (recsys_eval
# --ranker_ceiling): a bound on what better weights could reach, not a
# competitor.
CEILING = "ranker_ceiling"
print("| shop | setting | users | " + " | ".join(MODELS) +
      " | production ranker vs best baseline (95% interval) | ceiling: ranker fit on the test period |")
print("|---|---|---|" + "---|" * len(MODELS) + "---|---|")
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    report = json.load(open(path))
    protocol = report["protocols"][0]
    by_model = {m["model"]: m["results"] for m in protocol["models"]}
    for setting in ("all", "new"):
        r20 = {}
        users = ""
        for model in MODELS:
            result = by_model.get(model, {}).get(setting)
            if result and result["users"] > 0:
                r20[model] = result["at_k"]["20"]["recall"]
                users = result["users"]
        # Buy-again cannot recommend new items: not a baseline there.
        base = {m: v for m, v in r20.items() if m in BASELINES and
                not (setting == "new" and m == "buy_again")}
        cells = []
        best = max(base.values()) if base else None
        for model in MODELS:
            if model not in r20 or (setting == "new" and model == "buy_again"):
                cells.append("–")
                continue
            text = f"{r20[model]:.3f}"
            cells.append(f"**{text}**" if r20[model] == max(r20.values()) else text)
        if best and "production_ranker" in r20:
            delta = f"{(r20['production_ranker'] / best - 1) * 100:+.1f}%"
            # The 95% interval of the paired per-user difference from the
            # best baseline, relative to that baseline's recall.
            best_model = max(base, key=base.get)
            for p in protocol.get("production_ranker_paired", []):
                if (p["model"], p["setting"], p["k"]) == (best_model, setting, 20):
                    delta += (f" ({p['ci95_lower'] / best * 100:+.1f}% to "
                              f"{p['ci95_upper'] / best * 100:+.1f}%)")
        else:
            delta = "–"
        ceiling = by_model.get(CEILING, {}).get(setting)
        ceiling = (f"{ceiling['at_k']['20']['recall']:.3f}"
                   if ceiling and ceiling["users"] > 0 else "–")
        print(f"| {name} | {setting} items | {users} | " + " | ".join(cells) +
              f" | {delta} | {ceiling} |")
PY
